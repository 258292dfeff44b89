-- schedule_delete.lua: remove a schedule (its tasks already stored stay).
-- KEYS[1] schedule hash, KEYS[2] its runs list, KEYS[3] the queue's due zset
-- ARGV[1] name
-- returns 1 removed, 0 there was none
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return existed
