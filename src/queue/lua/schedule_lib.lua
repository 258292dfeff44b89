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

-- The queue a schedule script stores tasks into: {pending, scheduled, seq, wake, timer,
-- flow}; what it stores is gathered here and written once per call by `flush_queue`
-- (one ZADD per set, one sequence reservation, one count of `in`), as enqueue.lua does.
local function task_queue(pending, scheduled, seq, wake_list, timer, flow)
  return {pending, scheduled, seq, wake_list, timer, flow, ready = {}, later = {}, stored = 0}
end

-- Stores task `id` of schedule `name` from template `t` (an HMGET of TEMPLATE), due at
-- `base` + its delay, into queue `q` (`task_queue`; pending or scheduled at the flush).
-- The caller knows the task is not stored yet. Returns 1 stored, 0 queue full.
local function store_schedule_task(q, hash, id, name, t, base, now, max_len)
  if not q.len then q.len = waiting(q[1], q[2]) end
  if q.len >= max_len then return 0 end
  q.len = q.len + 1
  q.stored = q.stored + 1
  local run_at = tonumber(base) + tonumber(t[3])
  local body = schedule_body(t, now)
  if run_at > now then
    redis.call('HSET', hash, 'b', body, 's', 'scheduled', 'sched', name, 'r', run_at)
    q.later[#q.later + 1] = run_at
    q.later[#q.later + 1] = id
  else
    redis.call('HSET', hash, 'b', body, 's', 'queued', 'sched', name)
    q.ready[#q.ready + 1] = body_priority(body)
    q.ready[#q.ready + 1] = id
  end
  return 1
end

-- Writes what `store_schedule_task` gathered in `q` and signals the wake-up lists.
local function flush_queue(q)
  local n = #q.ready / 2
  if n > 0 then
    local seq = redis.call('INCRBY', q[3], n) - n
    local scored = {}
    for i = 1, n do
      scored[2 * i - 1] = pending_score(q.ready[2 * i - 1], seq + i)
      scored[2 * i] = q.ready[2 * i]
    end
    add_and_wake(q[1], scored, q[4])
  end
  add_and_wake(q[2], q.later, q[5])
  if q.stored > 0 then redis.call('HINCRBY', q[6], 'in', q.stored) end
end

-- A schedule's recent runs live in its own hash, as a ring of RUNS_KEPT fields `run:<k>`
-- (`<tick ms> <task id> <fired ms>`) and the count `runs` of runs ever recorded: the run
-- numbered n goes to `run:<n mod RUNS_KEPT>`, so recording one adds two fields to the
-- HSET the caller makes anyway (records.rs reads them back, newest first).
local RUNS_KEPT = 20

-- Appends run number `n` (the stored `runs`, 0 when none) of `tick` and task `id` to the
-- field list `update`, and returns the count after it.
local function add_run(update, n, tick, id, now)
  n = tonumber(n) or 0
  update[#update + 1] = 'run:' .. (n % RUNS_KEPT)
  update[#update + 1] = tick .. ' ' .. id .. ' ' .. string.format('%d', now)
  return n + 1
end
