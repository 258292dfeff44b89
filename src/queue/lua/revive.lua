-- revive.lua: re-enqueue a failed or cancelled task with fresh attempts (dead-letter
-- replay). The task keeps its id, payload and priority; its hash stops expiring.
-- KEYS[1] dead zset, KEYS[2] pending zset, KEYS[3] seq, KEYS[4] wake list, KEYS[5] task hash,
-- KEYS[6] the dead-letter set of its kind, KEYS[7] scheduled zset, KEYS[8] flow counters
-- (a replayed task counts as `in` again)
-- ARGV[1] task id, ARGV[2] max queue length
-- returns: 1 re-enqueued, 0 not failed/cancelled (see its state), -1 no such task,
--   2 refused: the queue holds its maximum of waiting tasks
local f = redis.call('HMGET', KEYS[5], 's', 'b')
if not f[1] then return -1 end
if f[1] ~= 'failed' and f[1] ~= 'cancelled' then return 0 end
if waiting(KEYS[2], KEYS[7]) >= tonumber(ARGV[2]) then return 2 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('PERSIST', KEYS[5])
redis.call('HSET', KEYS[5], 's', 'queued')
redis.call('HDEL', KEYS[5], 'a', 't', 'f', 'o', 'r')
redis.call('ZADD', KEYS[2], pending_score(body_priority(f[2]), redis.call('INCR', KEYS[3])), ARGV[1])
redis.call('HINCRBY', KEYS[8], 'in', 1)
wake(KEYS[4])
return 1
