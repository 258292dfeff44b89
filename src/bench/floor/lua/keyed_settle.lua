for i = 1, #ARGV do
  local h = KEYS[3] .. ARGV[i]
  redis.call('HSET', h, 's', 'ok', 'r', 'null', 'f', KEYS[4])
  redis.call('EXPIRE', h, 86400)
end
redis.call('ZREM', KEYS[2], unpack(ARGV))
return #ARGV
