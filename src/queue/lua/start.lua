-- start.lua: mark claimed tasks running and count the attempt.
-- KEYS[1] leased zset, KEYS[1+i] hash of task i
-- ARGV[1] now_ms, ARGV[1+i] id of task i
-- returns: per task false (no longer claimable) or
--   {att, max, kind, payload, timeout_ms, created_ms, run_at_ms or false, prio}
local now = ARGV[1]
local out = {}
for i = 1, #KEYS - 1 do
  local id, hash = ARGV[1 + i], KEYS[1 + i]
  out[i] = false
  if redis.call('ZSCORE', KEYS[1], id) then
    local f = redis.call('HMGET', hash, 'state', 'max', 'kind', 'payload', 'timeout', 'created', 'run_at', 'prio')
    if f[1] == 'queued' then
      local att = redis.call('HINCRBY', hash, 'att', 1)
      redis.call('HSET', hash, 'state', 'running', 'started', now)
      out[i] = {att, f[2], f[3], f[4], f[5], f[6], f[7], f[8]}
    elseif not f[1] then
      redis.call('ZREM', KEYS[1], id) -- the hash is gone: nothing to run
    end
  end
end
return out
