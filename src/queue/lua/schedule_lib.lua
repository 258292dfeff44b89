-- schedule_lib.lua: helpers of the schedule scripts, prepended after prelude.lua.

-- A schedule's task template, as schedule_put.lua stores it in the schedule's hash: its
-- tasks' body around their creation time (body.rs `template`), and their delay.
local TEMPLATE = {'t_head', 't_tail', 't_delay'}

-- The body of a task made from template `t` at `created` ms.
local function schedule_body(t, created)
  local head, tail = t[1], t[2]
  return head .. ' ' .. string.format('%d', created) .. ' ' .. tail
end

-- Whether the task of hash `hash` is waiting or running (a running task's hash says
-- `queued`: its claim lives in the queue's started hash). A finished or expired one is not.
local function task_active(hash)
  local state = redis.call('HGET', hash, 's')
  return state == 'queued' or state == 'scheduled'
end

-- Stores task `id` of schedule `name` from template `t` (an HMGET of TEMPLATE), due at
-- `base` + its delay, and adds it to pending or scheduled; `q` = {pending, scheduled, seq,
-- wake, timer, flow, woken = {}} (the lists are signalled once, by `signal_queue`; the
-- flow's `in` counts the task, as enqueue.lua counts a submission).
-- Returns 1 stored, 5 stored already (an earlier send of this very call), 0 queue full.
local function store_schedule_task(q, hash, id, name, t, base, now, max_len)
  if redis.call('EXISTS', hash) == 1 then return 5 end
  if waiting(q[1], q[2]) >= max_len then return 0 end
  local run_at = tonumber(base) + tonumber(t[3])
  local body = schedule_body(t, now)
  if run_at > now then
    redis.call('HSET', hash, 'b', body, 's', 'scheduled', 'sched', name, 'r', run_at)
    redis.call('ZADD', q[2], run_at, id)
    q.woken[5] = true
  else
    redis.call('HSET', hash, 'b', body, 's', 'queued', 'sched', name)
    redis.call('ZADD', q[1], pending_score(body_priority(body), redis.call('INCR', q[3])), id)
    q.woken[4] = true
  end
  redis.call('HINCRBY', q[6], 'in', 1)
  return 1
end

-- Signals the wake-up lists of what `store_schedule_task` added.
local function signal_queue(q)
  if q.woken[4] then wake(q[4]) end
  if q.woken[5] then wake(q[5]) end
end

-- Records a run: the schedule's last task, and its recent runs (the last 20, newest first,
-- as `<tick ms> <task id> <fired ms>`).
local function record_run(record, runs, tick, id, now)
  redis.call('HSET', record, 'last_run', tick, 'last_task', id)
  redis.call('LPUSH', runs, tick .. ' ' .. id .. ' ' .. string.format('%d', now))
  redis.call('LTRIM', runs, 0, 19)
end
