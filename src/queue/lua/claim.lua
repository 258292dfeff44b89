-- claim.lua: take up to N ready tasks, highest priority first, under a lease.
-- A claimed task is running: it is in the lease set, and the started hash holds its claim
-- token and start time. Its own hash keeps state `queued` and its attempt count until the
-- attempt ends (settle.lua counts it then; the reaper counts it if the worker died). The
-- token — one counter increment per claim — is the lease's fencing token. Writing nothing
-- per task keeps a claim at a constant number of Redis calls however many tasks it takes,
-- and the task hashes' keys, unknown before the pop, are never needed.
-- KEYS[1] pending zset, KEYS[2] leased zset, KEYS[3] paused flag, KEYS[4] wake list,
-- KEYS[5] started hash (task id → "<token> <start ms>"), KEYS[6] seq counter
-- ARGV[1] max count, ARGV[2] lease deadline ms, ARGV[3] now ms
-- returns: {token, id…}, or {} when nothing was claimed
if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
if #popped == 0 then return {} end
local token = redis.call('INCR', KEYS[6])
local stamp = token .. ' ' .. ARGV[3]
local out, lease, started = {token}, {}, {}
for i = 1, #popped, 2 do
  local id = popped[i]
  out[#out + 1] = id
  lease[#lease + 1] = ARGV[2]
  lease[#lease + 1] = id
  started[#started + 1] = id
  started[#started + 1] = stamp
end
redis.call('ZADD', KEYS[2], unpack(lease))
redis.call('HSET', KEYS[5], unpack(started))
-- More work remains: pass the wake-up on so another idle worker claims it.
if redis.call('ZCARD', KEYS[1]) > 0 then wake(KEYS[4]) end
return out
