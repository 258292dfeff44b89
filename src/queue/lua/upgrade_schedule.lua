-- upgrade_schedule.lua: convert a schedule record of the previous layout (its task
-- template as t_kind, t_payload, t_prio, t_max, t_timeout, t_ttl) to this one (t_head,
-- t_tail: its tasks' body around their creation time, made by the caller). A record
-- already converted, or changed by a PUT meanwhile, is left alone.
-- KEYS[1] the schedule's record
-- ARGV[1] head, ARGV[2] tail
-- returns: 1 converted, 0 left alone
local OLD = {'t_kind', 't_payload', 't_prio', 't_max', 't_timeout', 't_ttl'}
if redis.call('HEXISTS', KEYS[1], 't_kind') == 0 then return 0 end
local code = 0
if redis.call('HEXISTS', KEYS[1], 't_head') == 0 then
  redis.call('HSET', KEYS[1], 't_head', ARGV[1], 't_tail', ARGV[2])
  code = 1
end
redis.call('HDEL', KEYS[1], unpack(OLD))
return code
