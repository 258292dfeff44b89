-- prelude.lua: helpers prepended to every script when it is loaded (scripts.rs).
-- Every key a script touches arrives in KEYS; nothing here builds a key name.

-- Score in a pending set: higher priority first, FIFO (by `seq`) within a priority.
-- (9 - prio) * 2^42 + seq stays below 2^53, so it is exact in a double.
local function pending_score(prio, seq)
  return string.format('%d', (9 - tonumber(prio)) * 4398046511104 + seq)
end

-- Leave one token in a wake-up list; idle workers block on it with BLPOP.
local function wake(list)
  redis.call('LPUSH', list, '1')
  redis.call('LTRIM', list, 0, 0)
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
