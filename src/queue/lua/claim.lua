-- claim.lua: take up to N ready tasks, highest priority first, under a lease.
-- The tasks' hashes are not touched here (their keys are not known before the pop);
-- start.lua marks them running in the same round of the worker. A task popped here whose
-- start never ran is still in the lease set with state `queued`; the reaper requeues it.
-- KEYS[1] pending zset, KEYS[2] leased zset, KEYS[3] paused flag, KEYS[4] wake list
-- ARGV[1] max count, ARGV[2] lease deadline ms
-- returns: the claimed ids
if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
if #popped == 0 then return {} end
local ids, lease = {}, {}
for i = 1, #popped, 2 do
  ids[#ids + 1] = popped[i]
  lease[#lease + 1] = ARGV[2]
  lease[#lease + 1] = popped[i]
end
redis.call('ZADD', KEYS[2], unpack(lease))
-- More work remains: pass the wake-up on so another idle worker claims it.
if redis.call('ZCARD', KEYS[1]) > 0 then wake(KEYS[4]) end
return ids
