-- settle.lua: end attempts, one action per task, so that a batch of mixed outcomes is a
-- single call. Each action is fenced by the claim token: it applies only while the task
-- is still leased under the claim that ran it, so a late answer from a worker that lost
-- its lease never overwrites a newer attempt. The fence costs two calls per batch
-- (ZMSCORE, HMGET of the started hash); per task a success costs HSET and EXPIRE.
-- Field names: fields.rs.
-- KEYS[1] leased, KEYS[2] pending, KEYS[3] scheduled, KEYS[4] dead, KEYS[5] started hash,
-- KEYS[6] wake, KEYS[7] timer, KEYS[8] flow counters (`out` counts tasks that finished:
-- one HINCRBY per call), KEYS[9] the queue's sharded channel that hears of finished tasks
-- (long-poll waiters), then two keys per task i: KEYS[8+2i] its hash, KEYS[9+2i] the
-- dead-letter set of its kind
-- The reaper's condition (the lease must have expired) is judged by Redis' clock, the one
-- lease deadlines are set by.
-- ARGV[1] now_ms (dead-letter times), ARGV[2] dead_ttl_s, ARGV[3] dead_max, then 11
-- values per task:
--   id, action, claim token, lease must have expired (1/0), start of the attempt and now
--   as ms after the task's creation (how a task hash stores times: fields.rs), attempt
--   number, priority, result ttl s, text, due ms
-- actions: succeed (text = result json, not stored when null; the hash expires after the
--                   result ttl; an earlier attempt's error and retry time are cleared)
--          retry   (text = error)  → scheduled at due ms, attempt counted
--          fail    (text = error)  → failed, dead-letter list, attempt counted
--          release (shutdown hand-back) → front of its priority, attempt not counted
--          forget  (stale lease: the task is gone or not running, or the lease has no
--                   claim entry) → off the lease set
-- returns: per task 1 applied, 0 fenced off
local now, dead_ttl, dead_max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = (#ARGV - 3) / 11
local ids = {}
for i = 1, n do ids[i] = ARGV[3 + (i - 1) * 11 + 1] end
local leases = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local clock = redis_now_ms()
local claims = redis.call('HMGET', KEYS[5], unpack(ids))
local out, ready, later, died, done, ended = {}, {}, {}, false, {}, {}
for i = 1, n do
  local b = 3 + (i - 1) * 11
  local id, action, token, expired = ids[i], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local hash, dead_kind, lease, claim = KEYS[8 + 2 * i], KEYS[9 + 2 * i], leases[i], claims[i]
  local owned = claim and string.sub(claim, 1, #token + 1) == token .. ' '
  if action == 'forget' and not claim then owned = true end
  local ok = lease and owned and (expired == '0' or tonumber(lease) <= clock)
  out[i] = 0
  if ok then
    out[i] = 1
    ended[#ended + 1] = id
    local started, finished, att, text = ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 10]
    if action == 'succeed' then
      if text == 'null' then
        redis.call('HSET', hash, 's', 'succeeded', 'a', att, 't', started, 'f', finished)
      else
        redis.call('HSET', hash, 's', 'succeeded', 'o', text, 'a', att, 't', started, 'f', finished)
      end
      -- A success clears what earlier attempts left: their error, and the backoff time a
      -- retry wrote (the first attempt's run_at, a requested delay, stays).
      if tonumber(att) > 1 then redis.call('HDEL', hash, 'e', 'r') end
      redis.call('EXPIRE', hash, ARGV[b + 9])
      done[#done + 1] = id
    elseif action == 'retry' then
      local due = ARGV[b + 11]
      redis.call('HSET', hash, 's', 'scheduled', 'r', due, 'e', text, 'a', att, 't', started)
      later[#later + 1] = due
      later[#later + 1] = id
    elseif action == 'fail' then
      redis.call('HSET', hash, 's', 'failed', 'e', text, 'a', att, 't', started, 'f', finished)
      redis.call('EXPIRE', hash, dead_ttl)
      redis.call('ZADD', KEYS[4], now, id)
      redis.call('ZADD', dead_kind, now, id)
      trim_dead(dead_kind, now, dead_ttl, dead_max)
      died = true
      done[#done + 1] = id
    elseif action == 'release' then
      ready[#ready + 1] = pending_score(ARGV[b + 8], 0)
      ready[#ready + 1] = id
    end
  end
end
if #ended > 0 then
  redis.call('ZREM', KEYS[1], unpack(ended))
  redis.call('HDEL', KEYS[5], unpack(ended))
end
add_and_wake(KEYS[2], ready, KEYS[6])
add_and_wake(KEYS[3], later, KEYS[7])
if died then trim_dead(KEYS[4], now, dead_ttl, dead_max) end
if #done > 0 then
  redis.call('HINCRBY', KEYS[8], 'out', #done)
  redis.call('SPUBLISH', KEYS[9], table.concat(done, ' '))
end
return out
