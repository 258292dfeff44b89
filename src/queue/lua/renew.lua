-- renew.lua: extend the leases of tasks still held under the caller's claims. A lease
-- that was taken back (and perhaps claimed again by another worker) is left alone, so a
-- stale holder can neither recreate nor extend someone else's lease.
-- KEYS[1] leased zset, KEYS[2] started hash
-- ARGV[1] new deadline ms, then pairs: task id, claim token
-- returns: how many leases were extended
local ids = {}
for i = 2, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local claims = redis.call('HMGET', KEYS[2], unpack(ids))
local extend = {}
for i = 1, #ids do
  local token = ARGV[2 * i + 1]
  local claim = claims[i]
  if claim and string.sub(claim, 1, #token + 1) == token .. ' ' then
    extend[#extend + 1] = ARGV[1]
    extend[#extend + 1] = ids[i]
  end
end
if #extend == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'XX', unpack(extend))
return #extend / 2
