-- schedule_lib.lua: helpers of the schedule scripts, prepended after prelude.lua.

-- A schedule's task template, as schedule_put.lua stores it in the schedule's hash: its
-- tasks' body around their creation time (body.rs `template`), and their delay.
local TEMPLATE = {'t_head', 't_tail', 't_delay'}

-- The body of a task made from template `t` at `created` (ms, as a string).
local function schedule_body(t, created)
  return t[1] .. ' ' .. created .. ' ' .. t[2]
end

-- Whether tick `a` is at or before tick `b`, both ms as text the way Redis and ttp write
-- integers (no leading zeros): when of one length and not negative, by text, without
-- making numbers of them — `tonumber` parses a string twice, and the fire loop compares
-- two ticks per schedule. Otherwise as numbers; false when either is not one.
local function ms_at_or_before(a, b)
  if #a == #b and string.byte(a, 1) ~= 45 and string.byte(b, 1) ~= 45 then return a <= b end
  local x, y = tonumber(a), tonumber(b)
  return x ~= nil and y ~= nil and x <= y
end

-- Whether the task of hash `hash` is waiting or running (a running task's hash says
-- `queued`: its claim lives in the queue's started hash). A finished or expired one is not.
local function task_active(hash)
  local state = redis.call('HGET', hash, 's')
  return state == 'queued' or state == 'scheduled'
end

-- The queue a schedule script stores tasks into at `now` (ms, Redis' clock): {pending,
-- scheduled, seq, wake, timer, flow}; what it stores is gathered here and written once per
-- call by `flush_queue` (one ZADD per set, one sequence reservation, one count of `in`), as
-- enqueue.lua does. `now_s` is `now` formatted once: a fire call writes it into every body
-- and run it stores, and Lua's number-to-string conversion is dear in Redis.
local function task_queue(pending, scheduled, seq, wake_list, timer, flow, now)
  return {pending, scheduled, seq, wake_list, timer, flow, ready = {}, later = {}, stored = 0,
    now = now, now_s = string.format('%d', now)}
end

-- Stores task `id` of schedule `name` from template `t` (an HMGET of TEMPLATE), due at
-- `base` (ms, as text) + its delay, into queue `q` (`task_queue`; pending or scheduled at the
-- flush). The caller knows the task is not stored yet. Returns 1 stored, 0 queue full.
local function store_schedule_task(q, hash, id, name, t, base, max_len)
  if not q.len then q.len = waiting(q[1], q[2]) end
  if q.len >= max_len then return 0 end
  q.len = q.len + 1
  q.stored = q.stored + 1
  local body = schedule_body(t, q.now_s)
  -- Due now without arithmetic in the common case: no delay and a tick not after now.
  local due_now = t[3] == '0' and ms_at_or_before(base, q.now_s)
  local run_at = not due_now and tonumber(base) + tonumber(t[3])
  if run_at and run_at > q.now then
    redis.call('HSET', hash, 'b', body, 's', 'scheduled', 'sched', name, 'r', run_at)
    q.later[#q.later + 1] = run_at
    q.later[#q.later + 1] = id
  else
    redis.call('HSET', hash, 'b', body, 's', 'queued', 'sched', name)
    local r = #q.ready
    q.ready[r + 1], q.ready[r + 2] = body_priority(body), id
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

-- The ring's field names, by slot (built once, not per run).
local RUN_FIELDS = {}
for slot = 0, RUNS_KEPT - 1 do RUN_FIELDS[slot] = 'run:' .. string.format('%d', slot) end

-- Appends run number `n` (the stored `runs`, 0 when none) of `tick` and task `id` stored
-- at `now_s` (ms, a string) to the field list `update`, and returns the count after it,
-- formatted.
local function add_run(update, n, tick, id, now_s)
  n = tonumber(n) or 0
  update[#update + 1] = RUN_FIELDS[n % RUNS_KEPT]
  update[#update + 1] = tick .. ' ' .. id .. ' ' .. now_s
  return string.format('%d', n + 1)
end
