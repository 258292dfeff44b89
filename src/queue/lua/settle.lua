-- settle.lua: apply the outcome of attempts, one action per task, so that a batch of
-- mixed outcomes is a single call. Each action is fenced: it applies only while the task
-- is still in the lease set in the expected state and attempt, so a late answer from a
-- worker that lost its lease never overwrites a newer attempt.
-- KEYS[1] leased, KEYS[2] pending, KEYS[3] scheduled, KEYS[4] dead, KEYS[5] seq,
-- KEYS[6] wake, KEYS[7] timer, KEYS[7+i] hash of task i
-- ARGV[1] now_ms, ARGV[2] dead_ttl_s, ARGV[3] dead_max, ARGV[4] channel that hears of
-- finished tasks (long-poll waiters), then 7 values per task:
--   id, action, expected state, expected attempt, lease must have expired (1/0), text, due ms
-- actions: succeed (text = result json; the hash expires after its own ttl field)
--          retry   (text = error)                    → scheduled at due ms
--          fail    (text = error)                    → failed, dead-letter list
--          release (shutdown hand-back: attempt not counted) → front of pending
--          requeue (claimed but never started)       → pending
-- returns: per task 1 applied, 0 fenced off
local now, dead_ttl, dead_max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out, ready, later, died, done = {}, false, false, false, {}
for i = 1, (#ARGV - 4) / 7 do
  local b = 4 + (i - 1) * 7
  local id, action, want_state, want_att = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local text, num, hash = ARGV[b + 6], ARGV[b + 7], KEYS[7 + i]
  local lease = redis.call('ZSCORE', KEYS[1], id)
  local cur = redis.call('HMGET', hash, 'state', 'att', 'prio', 'ttl')
  local ok = lease and cur[1] == want_state and cur[2] == want_att
    and (ARGV[b + 5] == '0' or tonumber(lease) <= now)
  out[i] = 0
  if ok then
    out[i] = 1
    redis.call('ZREM', KEYS[1], id)
    if action == 'succeed' then
      redis.call('HSET', hash, 'state', 'succeeded', 'result', text, 'finished', now)
      redis.call('EXPIRE', hash, cur[4])
      done[#done + 1] = id
    elseif action == 'retry' then
      redis.call('HSET', hash, 'state', 'scheduled', 'run_at', num, 'error', text)
      redis.call('ZADD', KEYS[3], num, id)
      later = true
    elseif action == 'fail' then
      redis.call('HSET', hash, 'state', 'failed', 'error', text, 'finished', now)
      redis.call('EXPIRE', hash, dead_ttl)
      redis.call('ZADD', KEYS[4], now, id)
      died = true
      done[#done + 1] = id
    elseif action == 'release' then
      redis.call('HINCRBY', hash, 'att', -1)
      redis.call('HSET', hash, 'state', 'queued')
      redis.call('HDEL', hash, 'started')
      redis.call('ZADD', KEYS[2], pending_score(cur[3], 0), id)
      ready = true
    else -- requeue
      redis.call('ZADD', KEYS[2], pending_score(cur[3], redis.call('INCR', KEYS[5])), id)
      ready = true
    end
  end
end
if ready then wake(KEYS[6]) end
if later then wake(KEYS[7]) end
if died then trim_dead(KEYS[4], now, dead_ttl, dead_max) end
if #done > 0 then redis.call('PUBLISH', ARGV[4], table.concat(done, ' ')) end
return out
