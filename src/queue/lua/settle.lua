-- settle.lua: end attempts, one action per task, so that a batch of mixed outcomes is a
-- single call. Each action is fenced: it applies only while the task is still leased
-- with the attempt count the caller saw when it claimed the task, so a late answer from
-- a worker that lost its lease never overwrites a newer attempt.
-- KEYS[1] leased, KEYS[2] pending, KEYS[3] scheduled, KEYS[4] dead, KEYS[5] started hash,
-- KEYS[6] wake, KEYS[7] timer, KEYS[7+i] hash of task i
-- The per-batch work (lease check, lease removal) is one call each for the whole batch;
-- per task it costs HMGET, HSET and EXPIRE.
-- ARGV[1] now_ms, ARGV[2] dead_ttl_s, ARGV[3] dead_max, ARGV[4] channel that hears of
-- finished tasks (long-poll waiters), then 7 values per task:
--   id, action, attempts counted before this attempt (the fence), lease must have
--   expired (1/0), start ms of the attempt, text, due ms
-- actions: succeed (text = result json; the hash expires after its own ttl field)
--          retry   (text = error)  → scheduled at due ms, attempt counted
--          fail    (text = error)  → failed, dead-letter list, attempt counted
--          release (shutdown hand-back) → front of its priority, attempt not counted
--          forget  (stale lease: the task is gone or not running) → off the lease set
-- returns: per task 1 applied, 0 fenced off
local now, dead_ttl, dead_max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = (#ARGV - 4) / 7
local ids = {}
for i = 1, n do ids[i] = ARGV[4 + (i - 1) * 7 + 1] end
-- One ZMSCORE for the whole batch: which tasks are still leased, and until when.
local leases = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local out, ready, later, died, done, ended = {}, {}, {}, false, {}, {}
for i = 1, n do
  local b = 4 + (i - 1) * 7
  local id, action, want_att, expired = ids[i], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local started, text, hash = ARGV[b + 5], ARGV[b + 6], KEYS[7 + i]
  local lease = leases[i]
  local ok = lease and (expired == '0' or tonumber(lease) <= now)
  local cur
  if ok then
    cur = redis.call('HMGET', hash, 'state', 'att', 'prio', 'ttl')
    if action == 'forget' then
      ok = cur[1] ~= 'queued'
    else
      ok = cur[1] == 'queued' and cur[2] == want_att
    end
  end
  out[i] = 0
  if ok then
    out[i] = 1
    ended[#ended + 1] = id
    local att = tonumber(want_att) + 1
    if action == 'succeed' then
      redis.call('HSET', hash, 'state', 'succeeded', 'result', text, 'att', att,
        'started', started, 'finished', now)
      redis.call('EXPIRE', hash, cur[4])
      done[#done + 1] = id
    elseif action == 'retry' then
      local due = ARGV[b + 7]
      redis.call('HSET', hash, 'state', 'scheduled', 'run_at', due, 'error', text, 'att', att,
        'started', started)
      later[#later + 1] = due
      later[#later + 1] = id
    elseif action == 'fail' then
      redis.call('HSET', hash, 'state', 'failed', 'error', text, 'att', att,
        'started', started, 'finished', now)
      redis.call('EXPIRE', hash, dead_ttl)
      redis.call('ZADD', KEYS[4], now, id)
      died = true
      done[#done + 1] = id
    elseif action == 'release' then
      ready[#ready + 1] = pending_score(cur[3], 0)
      ready[#ready + 1] = id
    end
  end
end
if #ended > 0 then
  redis.call('ZREM', KEYS[1], unpack(ended))
  redis.call('HDEL', KEYS[5], unpack(ended))
end
if #ready > 0 then
  redis.call('ZADD', KEYS[2], unpack(ready))
  wake(KEYS[6])
end
if #later > 0 then
  redis.call('ZADD', KEYS[3], unpack(later))
  wake(KEYS[7])
end
if died then trim_dead(KEYS[4], now, dead_ttl, dead_max) end
if #done > 0 then redis.call('PUBLISH', ARGV[4], table.concat(done, ' ')) end
return out
