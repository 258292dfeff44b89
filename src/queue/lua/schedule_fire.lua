-- schedule_fire.lua: fire due schedules of one queue. For each, check that its stored next
-- tick, spec and last task are still those the caller planned from (compare-and-set: a
-- process that lost a race, or whose earlier call already ran, changes nothing), store the
-- planned ticks' tasks under their ids (one per tick: the same everywhere), count the
-- misses, and store the next tick — all atomically, so no kill at any moment can lose or
-- repeat a tick. A tick at or before the last one the schedule fired is refused (counted
-- missed) rather than stored again: only a Redis clock gone backwards (a failover to a
-- host whose clock is behind) could plan one.
-- A schedule another process fired already is seen first in the due zset (one ZMSCORE for
-- the batch: its score is the stored next tick), so a lost race costs no read of its hash.
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
-- returns {now, {per schedule: {1, overlapped, refused, fired tick...} done, or {0, next}
--   changed meanwhile (nothing done): next is its stored next tick when only that moved
--   on (another process fired it), -1 when anything else changed}}; only the first
--   schedule's result when the batch was not tried further
local q = task_queue(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
local max_len, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = redis_now_ms()
if n == 0 then return {now, {}} end
local first = redis.call('ZSCORE', KEYS[1], ARGV[3])
if first and ARGV[7] ~= '' and tonumber(first) == tonumber(ARGV[7]) then
  return {now, {{0, tonumber(first)}}}
end
local names, starts = {}, {}
local a = 3
for i = 1, n do
  names[i], starts[i] = ARGV[a], a
  a = a + 8 + 2 * tonumber(ARGV[a + 7])
end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(names))
local out, dues, ended = {}, {}, {}
local k = 8
for i = 1, n do
  a = starts[i]
  local record, last = KEYS[k], KEYS[k + 1]
  local name, from, sha, last_id, next = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local skip_overlap, missed, ticks = ARGV[a + 5] == 'skip', tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  local stored = tonumber(scores[i])
  local result = {0, -1}
  if stored and stored ~= tonumber(from) then
    result[2] = stored
  elseif stored then
    local current = redis.call('HMGET', record, 'next', 'sha', 'last_task', 'state', 'fired',
      'missed', 'runs', 'last_tick', unpack(TEMPLATE))
    -- Due-ness is judged here too, by Redis' clock: a plan made from a state read after
    -- another process advanced the schedule must not fire its next tick early.
    if current[1] == from and current[2] == sha and (current[3] or '') == last_id
        and current[4] == 'active' and stored <= now then
      result = {1, 0, 0}
      local runs, last_tick = current[7], tonumber(current[8]) or -1
      local t = {current[9], current[10], current[11]}
      local busy = skip_overlap and last_id ~= '' and task_active(last)
      local update, fired_tick, fired_id = {}, nil, nil
      for j = 1, ticks do
        local tick, id = ARGV[a + 6 + 2 * j], ARGV[a + 7 + 2 * j]
        if busy then
          result[2] = result[2] + 1
        elseif not (t[1] and t[2] and t[3]) or tonumber(tick) <= last_tick
            or store_schedule_task(q, KEYS[k + 1 + j], id, name, t, tick, now, max_len) == 0 then
          result[3] = result[3] + 1
        else
          runs = add_run(update, runs, tick, id, now)
          fired_tick, fired_id = tick, id
          result[#result + 1] = tonumber(tick)
          busy = skip_overlap
        end
      end
      if fired_tick then
        local u = #update
        update[u + 1], update[u + 2], update[u + 3], update[u + 4] =
          'last_run', fired_tick, 'last_task', fired_id
        update[u + 5], update[u + 6], update[u + 7], update[u + 8] =
          'last_tick', fired_tick, 'runs', runs
      end
      update[#update + 1] = 'fired'
      update[#update + 1] = (tonumber(current[5]) or 0) + #result - 3
      update[#update + 1] = 'missed'
      update[#update + 1] = (tonumber(current[6]) or 0) + missed + result[2] + result[3]
      if next == '' then
        update[#update + 1] = 'state'
        update[#update + 1] = 'ended'
        redis.call('HDEL', record, 'next')
        ended[#ended + 1] = name
      else
        update[#update + 1] = 'next'
        update[#update + 1] = next
        dues[#dues + 1] = next
        dues[#dues + 1] = name
      end
      redis.call('HSET', record, unpack(update))
    end
  end
  out[i] = result
  k = k + 2 + ticks
end
if #dues > 0 then redis.call('ZADD', KEYS[1], unpack(dues)) end
if #ended > 0 then redis.call('ZREM', KEYS[1], unpack(ended)) end
flush_queue(q)
return {now, out}
