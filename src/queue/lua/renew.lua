-- renew.lua: extend the leases of tasks still held under the caller's claims. A lease
-- that was taken back (and perhaps claimed again by another worker) is left alone, so a
-- stale holder can neither recreate nor extend someone else's lease. The new deadline
-- counts from Redis' clock, so a renewal that runs late (after a stall) still grants the
-- whole lease.
-- An external worker's heartbeat passes a cap (its attempt's start plus its timeout): a
-- lease never outlives the attempt's timeout, so a worker that holds a task too long loses
-- it to the reaper, which fails the attempt as timed out.
-- KEYS[1] leased zset, KEYS[2] started hash
-- ARGV[1] lease ms, ARGV[2] cap ms (0: none), then pairs: task id, claim token
-- returns: {how many leases were extended, the new deadline}
local ids = {}
for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local claims = redis.call('HMGET', KEYS[2], unpack(ids))
local deadline = redis_now_ms() + tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
if cap > 0 and cap < deadline then deadline = cap end
local extend = {}
for i = 1, #ids do
  local prefix = ARGV[2 * i + 2] .. ' '
  local claim = claims[i]
  if claim and string.sub(claim, 1, #prefix) == prefix then
    extend[#extend + 1] = deadline
    extend[#extend + 1] = ids[i]
  end
end
if #extend == 0 then return {0, deadline} end
redis.call('ZADD', KEYS[1], 'XX', unpack(extend))
return {#extend / 2, deadline}
