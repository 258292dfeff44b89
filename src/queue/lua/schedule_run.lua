-- schedule_run.lua: POST /schedules/{name}/run: one task of the schedule now, without
-- moving its next tick. The task id is chosen by the caller, so a resend after a broken
-- connection stores it once.
-- KEYS[1] pending, KEYS[2] scheduled, KEYS[3] seq, KEYS[4] wake list, KEYS[5] timer list,
--   KEYS[6] schedule hash, KEYS[7] the new task's hash, KEYS[8] flow counters
-- ARGV[1] name, ARGV[2] task id, ARGV[3] max queue length
-- returns {code, now}: 1 stored, 5 stored already, 0 the queue is full, -1 no such schedule
local now = redis_now_ms()
local t = redis.call('HMGET', KEYS[6], TEMPLATE[1], TEMPLATE[2], TEMPLATE[3], 'runs')
if not t[1] then return {-1, now} end
if redis.call('EXISTS', KEYS[7]) == 1 then return {5, now} end
local q = task_queue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8], now)
local code = store_schedule_task(q, KEYS[7], ARGV[2], ARGV[1], t, q.now_s, tonumber(ARGV[3]))
if code == 1 then
  local tick = q.now_s
  local update = {'last_run', tick, 'last_task', ARGV[2]}
  local runs = add_run(update, t[4], tick, ARGV[2], tick)
  update[#update + 1] = 'runs'
  update[#update + 1] = runs
  redis.call('HSET', KEYS[6], unpack(update))
  flush_queue(q)
end
return {code, now}
