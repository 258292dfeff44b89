-- remove.lua: delete a task that is not running (DELETE /tasks/{id}). One that has not
-- started leaves pending/scheduled in the same script that deletes it, so no worker can
-- claim it afterwards; a finished one leaves the dead-letter sets. Then its hash goes, and
-- long-poll waiters hear of it on the finished channel (and read 404). Removing twice is
-- harmless: the second call finds no task.
-- KEYS[1] pending zset, KEYS[2] scheduled zset, KEYS[3] leased zset, KEYS[4] task hash,
-- KEYS[5] dead zset, KEYS[6] the dead-letter set of its kind, KEYS[7] flow counters (a
-- task removed before it started counts as `out`, like a cancel), KEYS[8] the queue's
-- sharded channel that hears of finished tasks
-- ARGV[1] task id
-- returns: 2 removed a task that had not started (it counts as cancelled),
--          1 removed a finished task (succeeded, failed or cancelled),
--          0 running (in the lease set): nothing changed, -1 no such task
local state = redis.call('HGET', KEYS[4], 's')
if not state then return -1 end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
local code
if state == 'queued' or state == 'scheduled' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[7], 'out', 1)
  code = 2
elseif state == 'succeeded' or state == 'failed' or state == 'cancelled' then
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('ZREM', KEYS[6], ARGV[1])
  code = 1
else
  return 0
end
redis.call('DEL', KEYS[4])
redis.call('SPUBLISH', KEYS[8], ARGV[1])
return code
