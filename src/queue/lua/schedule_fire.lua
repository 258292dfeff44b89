-- schedule_fire.lua: fire due schedules of one queue. For each, check that its stored next
-- tick, spec and last task are still those the caller planned from (compare-and-set: a
-- process that lost a race, or whose earlier call already ran, changes nothing), store the
-- planned ticks' tasks under their ids (one per tick: the same everywhere), count the
-- misses, and store the next tick — all atomically, so no kill at any moment can lose or
-- repeat a tick. A tick at or before the last one the schedule fired is refused (counted
-- missed) rather than stored again: only a Redis clock gone backwards (a failover to a
-- host whose clock is behind) could plan one.
-- A batch whose first schedule stores the very next tick this call would store is not
-- tried further (one ZSCORE): another process applied the same plan, and processes plan
-- the same batches, so the rest is most likely its too; the caller takes it as applied,
-- and anything still due is read and fired by the next pass.
-- KEYS[1] due zset, KEYS[2] pending, KEYS[3] scheduled, KEYS[4] seq, KEYS[5] wake list,
--   KEYS[6] timer list, KEYS[7] flow counters, then per schedule: its hash, the hash of its
--   last task (its own hash again when it has none or does not skip overlaps), then the
--   hash of each planned task
-- ARGV[1] max queue length, ARGV[2] n schedules, then per schedule: name, the stored next
--   tick planned from, sha of its spec, last task id ('' none), new next tick ('' none:
--   ended), overlap (skip|allow), ticks missed by the plan, n ticks, then per tick: tick
--   ms, task id
-- Written for Redis' time per fired schedule (a thousand may share a tick): one read of the
-- record, one write of it and one of the task (more only to end it, to check the last task
-- when skipping overlaps, and to count misses); ticks compared as text where they can be
-- (`tonumber` parses twice); no write of `last_run` (the record's reader takes the later of
-- it and `last_tick`) nor of `missed` when nothing was missed.
-- returns {now, {per schedule, one after the other: 1, overlapped, refused, n fired, then
--   the fired ticks, when done; or 0, next when it changed meanwhile (nothing done): next is
--   its stored next tick when only that moved on (another process fired it), -1 when
--   anything else changed}}; only the first schedule's result when the batch was not tried
--   further. Ticks come back as text.
local now = redis_now_ms()
local q = task_queue(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], now)
local max_len, n = tonumber(ARGV[1]), tonumber(ARGV[2])
if n == 0 then return {now, {}} end
local first = redis.call('ZSCORE', KEYS[1], ARGV[3])
if first and first == ARGV[7] then
  return {now, {0, first}}
end
-- One flat reply (`o`, `r` values so far), not a table per schedule: Redis inspects every
-- table of a script's reply for error and status fields.
local o, r, dues, ended, d = {}, 0, {}, {}, 0
local a, k = 3, 8
for _ = 1, n do
  local name, from, ticks = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 7])
  local record, last_id, next = KEYS[k], ARGV[a + 3], ARGV[a + 4]
  -- The template first: the reply is the template `store_schedule_task` takes.
  local t = redis.call('HMGET', record, TEMPLATE[1], TEMPLATE[2], TEMPLATE[3], 'next', 'sha',
    'last_task', 'state', 'fired', 'runs', 'last_tick')
  local stored_next = t[4]
  -- Ticks are compared as text (ms written alike everywhere): equal text, equal tick.
  if t[7] ~= 'active' or not stored_next then
    o[r + 1], o[r + 2], r = 0, -1, r + 2
  elseif stored_next ~= from then
    o[r + 1], o[r + 2], r = 0, stored_next, r + 2
  -- Due-ness is judged here too, by Redis' clock: a plan made from a state read after
  -- another process advanced the schedule must not fire its next tick early.
  elseif t[5] ~= ARGV[a + 2] or (t[6] or '') ~= last_id
      or not ms_at_or_before(from, q.now_s) then
    o[r + 1], o[r + 2], r = 0, -1, r + 2
  else
    local skip_overlap = ARGV[a + 5] == 'skip'
    local runs, last_tick = t[9], t[10]
    local template_ok = t[1] and t[2] and t[3]
    local busy = skip_overlap and last_id ~= '' and task_active(KEYS[k + 1])
    local update, u, fired_tick, fired_id = {}, 0, nil, nil
    -- The result goes in place: {1, overlapped, refused, n fired, fired ticks...}.
    local head, fired = r, 0
    r = r + 4
    local overlapped, refused = 0, 0
    for j = 1, ticks do
      local tick, id = ARGV[a + 6 + 2 * j], ARGV[a + 7 + 2 * j]
      if busy then
        overlapped = overlapped + 1
      elseif not template_ok or (last_tick and ms_at_or_before(tick, last_tick))
          or store_schedule_task(q, KEYS[k + 1 + j], id, name, t, tick, max_len) == 0 then
        refused = refused + 1
      else
        runs = add_run(update, runs, tick, id, q.now_s)
        u = u + 2
        fired_tick, fired_id = tick, id
        fired, o[r + 1], r = fired + 1, tick, r + 1
        busy = skip_overlap
      end
    end
    if fired_tick then
      -- No `last_run`: the record's reader takes the later of it and `last_tick`.
      update[u + 1], update[u + 2], update[u + 3], update[u + 4] =
        'last_task', fired_id, 'last_tick', fired_tick
      update[u + 5], update[u + 6] = 'runs', runs
      u = u + 6
    end
    update[u + 1] = 'fired'
    update[u + 2] = string.format('%d', (tonumber(t[8]) or 0) + fired)
    if next == '' then
      update[u + 3], update[u + 4] = 'state', 'ended'
      redis.call('HDEL', record, 'next')
      ended[#ended + 1] = name
    else
      update[u + 3], update[u + 4] = 'next', next
      dues[d + 1], dues[d + 2] = next, name
      d = d + 2
    end
    redis.call('HSET', record, unpack(update))
    -- Misses are rare next to firings: counted by a call of their own when there are any.
    local planned_missed = ARGV[a + 6]
    local missed = (planned_missed == '0' and 0 or tonumber(planned_missed)) + overlapped + refused
    if missed > 0 then
      local counted = redis.pcall('HINCRBY', record, 'missed', missed)
      -- A stored count that is not an integer is replaced, as a firing must not fail half-way.
      if type(counted) == 'table' then redis.call('HSET', record, 'missed', missed) end
    end
    o[head + 1], o[head + 2], o[head + 3], o[head + 4] = 1, overlapped, refused, fired
  end
  a, k = a + 8 + 2 * ticks, k + 2 + ticks
end
if d > 0 then redis.call('ZADD', KEYS[1], unpack(dues)) end
if #ended > 0 then redis.call('ZREM', KEYS[1], unpack(ended)) end
flush_queue(q)
return {now, o}
