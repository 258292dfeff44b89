local res, exp = {}, {}
for i = 1, #ARGV do
  res[#res + 1] = ARGV[i]; res[#res + 1] = 'ok|null'
  exp[#exp + 1] = KEYS[6]; exp[#exp + 1] = ARGV[i]
end
redis.call('HSET', KEYS[4], unpack(res))
redis.call('ZADD', KEYS[5], unpack(exp))
redis.call('ZREM', KEYS[2], unpack(ARGV))
return #ARGV
