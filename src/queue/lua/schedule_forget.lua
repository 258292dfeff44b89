-- schedule_forget.lua: release a schedule's name in the deployment's index, the last step
-- of a DELETE (after schedule_delete.lua removed the schedule from its queue), only while
-- the name is still held for that queue.
-- KEYS[1] index hash, KEYS[2] index version
-- ARGV[1] name, ARGV[2] queue
-- returns 1 released, 0 not held for that queue
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return 1
