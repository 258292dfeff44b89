-- schedule_resume.lua: restart a paused schedule from the next tick after now (ticks that
-- passed while it was paused are not caught up); resuming twice is harmless.
-- KEYS[1] schedule hash, KEYS[2] the queue's due zset, KEYS[3] the queue's schedule wake list
-- ARGV[1] name, ARGV[2] sha of the spec the next tick was computed from,
--   ARGV[3] next tick ms ('' = none: the schedule has ended)
-- returns the state after (active, paused, ended), 'moved' when the spec changed since it
--   was read (compute again), false when there is no schedule
local current = redis.call('HMGET', KEYS[1], 'state', 'sha')
if not current[1] then return false end
if current[1] ~= 'paused' then return current[1] end
if current[2] ~= ARGV[2] then return 'moved' end
local now = redis_now_ms()
if ARGV[3] == '' then
  redis.call('HSET', KEYS[1], 'state', 'ended', 'updated', now)
  redis.call('HDEL', KEYS[1], 'next')
  return 'ended'
end
redis.call('HSET', KEYS[1], 'state', 'active', 'next', ARGV[3], 'updated', now)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
wake(KEYS[3])
return 'active'
