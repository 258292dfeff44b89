local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
if #popped == 0 then return {} end
local lease, ids = {}, {}
for i = 1, #popped, 2 do
  ids[#ids + 1] = popped[i]
  lease[#lease + 1] = ARGV[2]; lease[#lease + 1] = popped[i]
end
redis.call('ZADD', KEYS[2], unpack(lease))
local bodies = redis.call('HMGET', KEYS[3], unpack(ids))
local out = {}
for i = 1, #ids do out[#out + 1] = ids[i]; out[#out + 1] = bodies[i] end
return out
