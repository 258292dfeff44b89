-- promote.lua: move due scheduled tasks (delays, retry backoffs) to the pending set.
-- KEYS[1] scheduled zset, KEYS[2] pending zset, KEYS[3] seq, KEYS[4] wake list,
-- KEYS[4+i] hash of task i
-- ARGV[1] now_ms, ARGV[1+i] id of task i (read with ZRANGEBYSCORE just before)
-- returns: {promoted count, run_at of the next scheduled task or false}
local now = tonumber(ARGV[1])
local moved = 0
for i = 1, #KEYS - 4 do
  local id, hash = ARGV[1 + i], KEYS[4 + i]
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) <= now then
    local body = redis.call('HGET', hash, 'b')
    if body then
      redis.call('ZREM', KEYS[1], id)
      redis.call('HSET', hash, 's', 'queued')
      redis.call('ZADD', KEYS[2], pending_score(body_priority(body), redis.call('INCR', KEYS[3])), id)
      moved = moved + 1
    elseif redis.call('HEXISTS', hash, 'kind') == 0 then
      -- Gone (deleted by hand) or unreadable: nothing to run. A hash of the previous
      -- layout (it has `kind`) stays until the start-up upgrade converts it.
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
if moved > 0 then wake(KEYS[4]) end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {moved, next[2] or false}
