-- enqueue.lua: store new tasks and make them ready (pending) or scheduled, honouring
-- idempotency keys and the queue's length limit.
-- KEYS[1] pending zset, KEYS[2] scheduled zset, KEYS[3] seq counter,
-- KEYS[4] wake list, KEYS[5] timer list, KEYS[6] flow counters (`in` counts stored
-- tasks: one HINCRBY per call), then two keys per task i:
--   KEYS[5+2i] hash of task i, KEYS[6+2i] its idempotency key (the hash key again if none)
-- ARGV[1] now_ms, ARGV[2] max queue length, ARGV[3] n tasks, then 7 values per task:
--   id, prio, run_at_ms (0 = now), body (body.rs: written as is), result_ttl_s,
--   has idempotency key (1/0), request fingerprint material
-- returns: per task {code, id}: 1 queued, 2 scheduled, 0 rejected (queue full),
--   3 replay of the task `id` (same key, same request), 4 conflict with task `id`
--   (same key, different request), 5 stored already (this call was sent before and its
--   reply lost: the task ids make it idempotent, so sending it again is safe)
local now, max_len, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local len = waiting(KEYS[1], KEYS[2])
local seq = redis.call('INCRBY', KEYS[3], n) - n
local out, ready, later, stored = {}, {}, {}, 0
-- One EXISTS over every task hash: when none exists (a first send: nearly always) no task
-- needs its own check.
local hashes = {}
for i = 1, n do hashes[i] = KEYS[5 + 2 * i] end
local resent = redis.call('EXISTS', unpack(hashes)) > 0
for i = 1, n do
  local b = 3 + (i - 1) * 7
  local id, prio, run_at, ttl = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]), ARGV[b + 5]
  local hash, idem = KEYS[5 + 2 * i], KEYS[6 + 2 * i]
  local fingerprint, known = nil, nil
  if resent and redis.call('EXISTS', hash) == 1 then
    out[i] = {5, id}
  elseif ARGV[b + 6] == '1' then
    fingerprint = redis.sha1hex(ARGV[b + 7])
    known = redis.call('GET', idem)
  end
  if out[i] then
    -- stored by an earlier send of this call
  elseif known then
    local sep = string.find(known, '\n', 1, true)
    local code = (string.sub(known, sep + 1) == fingerprint) and 3 or 4
    out[i] = {code, string.sub(known, 1, sep - 1)}
  elseif len >= max_len then
    out[i] = {0, id}
  else
    len = len + 1
    stored = stored + 1
    if fingerprint then
      -- The key lives for the result TTL counted from the task's earliest start, so a
      -- delayed task cannot be submitted twice while it waits.
      local wait_s = math.max(0, math.ceil((run_at - now) / 1000))
      redis.call('SET', idem, id .. '\n' .. fingerprint, 'EX', tonumber(ttl) + wait_s)
    end
    if run_at > now then
      redis.call('HSET', hash, 'b', ARGV[b + 4], 's', 'scheduled', 'r', run_at)
      later[#later + 1] = run_at
      later[#later + 1] = id
      out[i] = {2, id}
    else
      redis.call('HSET', hash, 'b', ARGV[b + 4], 's', 'queued')
      ready[#ready + 1] = pending_score(prio, seq + i)
      ready[#ready + 1] = id
      out[i] = {1, id}
    end
  end
end
add_and_wake(KEYS[1], ready, KEYS[4])
add_and_wake(KEYS[2], later, KEYS[5])
if stored > 0 then redis.call('HINCRBY', KEYS[6], 'in', stored) end
return out
