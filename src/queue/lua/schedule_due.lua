-- schedule_due.lua: the schedules of a queue that are due by Redis' clock (never a host's).
-- KEYS[1] the queue's due zset
-- ARGV[1] most names to return
-- returns {now ms, {name, next tick, ...} (due, earliest first), the earliest tick not yet
--   due or false}
local now = redis_now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
local later = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {now, due, later[2] or false}
