-- enqueue.lua: store new tasks and make them ready (pending) or scheduled.
-- KEYS[1] pending zset, KEYS[2] scheduled zset, KEYS[3] seq counter,
-- KEYS[4] wake list, KEYS[5] timer list, KEYS[5+i] hash of task i
-- ARGV[1] now_ms, ARGV[2] max queue length, ARGV[3] n tasks, then 8 values per task:
--   id, prio, run_at_ms (0 = now), kind, payload json, max_attempts, timeout_ms, result_ttl_s
-- returns: one code per task: 1 queued, 2 scheduled, 0 rejected because the queue is full
local now, max_len, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local len = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local seq = redis.call('INCRBY', KEYS[3], n) - n
local out, ready, later = {}, false, false
for i = 1, n do
  local b = 3 + (i - 1) * 8
  if len >= max_len then
    out[i] = 0
  else
    len = len + 1
    local id, prio, run_at = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3])
    local hash = KEYS[5 + i]
    redis.call('HSET', hash, 'kind', ARGV[b + 4], 'payload', ARGV[b + 5], 'prio', prio,
      'att', 0, 'max', ARGV[b + 6], 'timeout', ARGV[b + 7], 'ttl', ARGV[b + 8], 'created', now)
    if run_at > now then
      redis.call('HSET', hash, 'state', 'scheduled', 'run_at', run_at)
      redis.call('ZADD', KEYS[2], run_at, id)
      later, out[i] = true, 2
    else
      redis.call('HSET', hash, 'state', 'queued')
      redis.call('ZADD', KEYS[1], pending_score(prio, seq + i), id)
      ready, out[i] = true, 1
    end
  end
end
if ready then wake(KEYS[4]) end
if later then wake(KEYS[5]) end
return out
