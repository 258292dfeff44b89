local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
local lease, out = {}, {}
for i = 1, #popped, 2 do
  local id = popped[i]
  lease[#lease + 1] = ARGV[2]; lease[#lease + 1] = id
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[3] .. id, 'd')
end
if #lease > 0 then redis.call('ZADD', KEYS[2], unpack(lease)) end
return out
