-- prelude.lua: helpers prepended to every script when it is loaded (scripts.rs).
-- Every key a script touches arrives in KEYS; nothing here builds a key name.

-- Score in a pending set: higher priority first, FIFO (by `seq`) within a priority.
-- (9 - prio) * 2^42 + seq stays below 2^53, so it is exact in a double.
-- `prio` is one digit: its byte minus '0' is its value, without `tonumber`'s parsing.
local function pending_score(prio, seq)
  return string.format('%d', (57 - string.byte(prio)) * 4398046511104 + seq)
end

-- Redis' own clock in ms: lease deadlines are set and checked by it, so they hold however
-- late a call runs and whatever the ttp hosts' clocks say.
local function redis_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Leave two tokens in a wake-up list; idle workers block on it with BLPOP. Two, so that
-- one waiter that stalled (its process stopped while blocked: Redis still hands it the
-- token) cannot swallow the only wake-up; a spare token costs one empty claim at most.
local function wake(list)
  redis.call('LPUSH', list, '1', '1')
  redis.call('LTRIM', list, 0, 1)
end

-- Add `pairs` (score, member, …) to the zset and signal its wake-up list; nothing when
-- the batch added nothing.
local function add_and_wake(zset, pairs, list)
  if #pairs == 0 then return end
  redis.call('ZADD', zset, unpack(pairs))
  wake(list)
end

-- Cap a dead-letter set by age and by size. Trimmed members' hashes expire by their TTL.
local function trim_dead(dead, now, ttl_s, max)
  redis.call('ZREMRANGEBYSCORE', dead, '-inf', '(' .. (now - ttl_s * 1000))
  local extra = redis.call('ZCARD', dead) - max
  if extra > 0 then redis.call('ZREMRANGEBYRANK', dead, 0, extra - 1) end
end

-- Queued plus scheduled tasks of a queue: what TTP_MAX_QUEUE_LENGTH bounds.
local function waiting(pending, scheduled)
  return redis.call('ZCARD', pending) + redis.call('ZCARD', scheduled)
end

-- What the scripts read out of a task's body (field `b`, written once; body.rs owns the
-- format `<prio> <max> <timeout ms> <ttl s> <created ms> <kind> <payload>`).
local function body_priority(body)
  return string.sub(body, 1, 1)
end

local function body_ttl(body)
  return string.match(body, '^%d+ %d+ %d+ (%d+) ')
end

local function body_created(body)
  return tonumber(string.match(body, '^%d+ %d+ %d+ %d+ (%-?%d+) '))
end
