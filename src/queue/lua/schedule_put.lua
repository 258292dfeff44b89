-- schedule_put.lua: create or change a schedule (PUT /schedules/{name}). An unchanged spec
-- changes nothing, not even the next tick, so repeating a PUT (or its lost-reply resend, or
-- every process applying the configuration file at start-up) is harmless.
-- KEYS[1] schedule hash, KEYS[2] the queue's due zset, KEYS[3] the queue's schedule wake list
-- ARGV[1] name, ARGV[2] spec (canonical JSON), ARGV[3] next tick ms ('' = none),
--   ARGV[4] paused (1/0), ARGV[5..7] template: body head, body tail (body.rs), delay ms
-- returns {code, state}: code 1 created, 2 changed, 0 unchanged; state active|paused|ended
local record, due, name, next = KEYS[1], KEYS[2], ARGV[1], ARGV[3]
local current = redis.call('HMGET', record, 'spec', 'state')
if current[1] == ARGV[2] then return {0, current[2]} end
local now = redis_now_ms()
local state = 'active'
if ARGV[4] == '1' then state = 'paused' elseif next == '' then state = 'ended' end
redis.call('HSET', record, 'spec', ARGV[2], 'sha', redis.sha1hex(ARGV[2]), 'state', state,
  'updated', now, 't_head', ARGV[5], 't_tail', ARGV[6], 't_delay', ARGV[7])
local code = 2
if not current[1] then
  code = 1
  redis.call('HSET', record, 'created', now, 'fired', 0, 'missed', 0)
end
if next == '' then
  redis.call('HDEL', record, 'next')
else
  redis.call('HSET', record, 'next', next)
end
if state == 'active' then
  redis.call('ZADD', due, next, name)
  wake(KEYS[3])
else
  redis.call('ZREM', due, name)
end
return {code, state}
