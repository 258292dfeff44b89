-- cancel.lua: cancel a task that has not started. Removing it from pending/scheduled in
-- the same script that marks it cancelled means no worker can claim it afterwards.
-- KEYS[1] pending zset, KEYS[2] scheduled zset, KEYS[3] task hash, KEYS[4] flow counters
-- (a cancelled task counts as `out`), KEYS[5] the queue's sharded channel that hears of
-- finished tasks
-- ARGV[1] task id, ARGV[2] now_ms
-- returns: 1 cancelled, 0 not cancellable (running or finished: see its state),
--          -1 no such task
local state = redis.call('HGET', KEYS[3], 's')
if not state then return -1 end
if state ~= 'queued' and state ~= 'scheduled' then return 0 end
local removed = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
-- queued but not in pending: claimed a moment ago, about to start
if removed == 0 then return 0 end
local body = redis.call('HGET', KEYS[3], 'b')
local finished = string.format('%d', tonumber(ARGV[2]) - body_created(body))
redis.call('HSET', KEYS[3], 's', 'cancelled', 'f', finished)
redis.call('EXPIRE', KEYS[3], body_ttl(body))
redis.call('HINCRBY', KEYS[4], 'out', 1)
redis.call('SPUBLISH', KEYS[5], ARGV[1])
return 1
