local seq = redis.call('INCRBY', KEYS[2], #ARGV) - #ARGV
local z = {}
for i = 1, #ARGV do
  local id = 't' .. (seq + i)
  redis.call('HSET', KEYS[3] .. id, 'd', ARGV[i], 's', 'q')
  z[#z + 1] = 4 * 4398046511104 + seq + i
  z[#z + 1] = id
end
redis.call('ZADD', KEYS[1], unpack(z))
return seq
