-- claim.lua: take up to N ready tasks, highest priority first, under a lease.
-- A claimed task is running: it is in the lease set, and the started hash holds its claim
-- entry `<token> <start ms> <worker id or ->`. Its own hash keeps state `queued` and its attempt count until
-- the attempt ends (settle.lua counts it then; the reaper counts it if the worker died).
-- The token, chosen by the claimer (128 random bits), is the lease's fencing token.
-- Writing nothing per task keeps a claim at a constant number of Redis calls however many
-- tasks it takes.
-- A claim whose reply was lost (a timeout, a stall) must not cost its tasks an attempt:
-- the claim is recorded under its claim id for as long as its lease (its stamp only), and
-- the same call again answers the tasks still held under it instead of taking more: those
-- whose claim entry carries its token (a scan of the started hash, as large as the tasks
-- running in the queue; only a lost reply pays it). Lease deadlines
-- come from Redis' own clock, so a call that runs late (after a stall) still grants a
-- whole lease.
-- KEYS[1] pending zset, KEYS[2] leased zset, KEYS[3] paused flag, KEYS[4] wake list,
-- KEYS[5] started hash (task id → claim entry), KEYS[6] the claim's record, KEYS[7] the
-- queue's task hash prefix (keys.rs: a task's hash is the prefix and its id; the claimed
-- ids are only known once popped, so their hashes are the one key name a script forms,
-- from a prefix inside the queue's hash tag: the same slot on a cluster)
-- ARGV[1] max count, ARGV[2] lease ms, ARGV[3] token (used when the claim is new),
-- ARGV[4] worker id (`-` for none; no spaces)
-- returns: {token, start ms, then per task: id and its FIELDS (false where absent)}, or {}
-- when nothing was claimed and nothing is recorded (a recorded claim whose tasks all
-- ended answers {token, start ms})
-- What the worker needs of each task it takes (fields.rs ClaimFields, in this order).
local FIELDS = {'b', 's', 'a', 'r'}

-- Appends task `id` and its FIELDS to `out`.
local function answer(out, id)
  out[#out + 1] = id
  local values = redis.call('HMGET', KEYS[7] .. id, unpack(FIELDS))
  for i = 1, #FIELDS do out[#out + 1] = values[i] end
end

local record = redis.call('GET', KEYS[6])
if record then
  local token, start = string.match(record, '^(%S+) (%S+)')
  local out = {token, start}
  local prefix = token .. ' '
  local running = redis.call('HGETALL', KEYS[5])
  for i = 1, #running, 2 do
    if string.sub(running[i + 1], 1, #prefix) == prefix then answer(out, running[i]) end
  end
  return out
end
if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
if #popped == 0 then return {} end
local now = redis_now_ms()
local token, lease_ms = ARGV[3], tonumber(ARGV[2])
local stamp = token .. ' ' .. now .. ' ' .. ARGV[4]
local deadline = now + lease_ms
local out, lease, started = {token, now}, {}, {}
for i = 1, #popped, 2 do
  local id = popped[i]
  answer(out, id)
  lease[#lease + 1] = deadline
  lease[#lease + 1] = id
  started[#started + 1] = id
  started[#started + 1] = stamp
end
redis.call('ZADD', KEYS[2], unpack(lease))
redis.call('HSET', KEYS[5], unpack(started))
redis.call('SET', KEYS[6], stamp, 'PX', lease_ms)
-- More work remains: pass the wake-up on so another idle worker claims it.
if redis.call('ZCARD', KEYS[1]) > 0 then wake(KEYS[4]) end
return out
