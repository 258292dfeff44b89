-- schedule_pause.lua: stop an active schedule firing (pausing twice is harmless).
-- KEYS[1] schedule hash, KEYS[2] the queue's due zset
-- ARGV[1] name
-- returns the state before (active, paused, ended), false when there is no schedule
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'active' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'updated', redis_now_ms())
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return state
