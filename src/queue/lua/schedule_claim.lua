-- schedule_claim.lua: hold a schedule's name for its queue in the deployment's index, the
-- first step of a PUT (the second is schedule_put.lua in the queue's slot). A crash in
-- between leaves a name held with no schedule: invisible to reads, completed by the next
-- PUT, released by DELETE; never a schedule that fires unseen.
-- KEYS[1] index hash (name → queue), KEYS[2] index version
-- ARGV[1] name, ARGV[2] queue, ARGV[3] most schedules in the deployment
-- returns {code, queue}: 1 held now, 2 held by this queue already, 3 held by `queue`,
--   0 the deployment holds the most schedules already
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then
  if held == ARGV[2] then return {2, held} end
  return {3, held}
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {0, ''} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return {1, ARGV[2]}
