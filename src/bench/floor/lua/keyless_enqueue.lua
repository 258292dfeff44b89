local seq = redis.call('INCRBY', KEYS[2], #ARGV) - #ARGV
local z, h = {}, {}
for i = 1, #ARGV do
  local id = 't' .. (seq + i)
  h[#h + 1] = id; h[#h + 1] = ARGV[i]
  z[#z + 1] = 4 * 4398046511104 + seq + i; z[#z + 1] = id
end
redis.call('HSET', KEYS[3], unpack(h))
redis.call('ZADD', KEYS[1], unpack(z))
return seq
