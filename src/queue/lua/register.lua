-- register.lua: add a queue to the deployment's set of queues, within its limit.
-- KEYS[1] the set of queues (global: one fixed slot)
-- ARGV[1] queue name, ARGV[2] most queues (TTP_MAX_QUEUES)
-- returns: 1 registered (now or before), 0 refused: the set is at its limit
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
