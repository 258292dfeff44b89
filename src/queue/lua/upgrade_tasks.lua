-- upgrade_tasks.lua: convert task hashes of the previous layout (one field per value:
-- kind, payload, prio, max, timeout, ttl, created, state, att, run_at, started, finished,
-- result, error) to this one (the body `b`, written by the caller from those values, and
-- the changing fields under their short names, times after the creation: fields.rs). A hash already converted (by
-- another process, or an earlier call whose reply was lost) is left alone; its TTL stays.
-- KEYS[i] task hash i (all of one queue)
-- ARGV[i] the body of task i (body.rs), made from its old fields
-- returns: how many hashes were converted
local RENAMED = {state = 's', att = 'a', run_at = 'r', started = 't', finished = 'f',
  result = 'o', error = 'e'}
local OLD = {'kind', 'payload', 'prio', 'max', 'timeout', 'ttl', 'created', 'state', 'att',
  'run_at', 'started', 'finished', 'result', 'error'}
local converted = 0
for i, hash in ipairs(KEYS) do
  if redis.call('HEXISTS', hash, 'kind') == 1 then
    local new = {'b', ARGV[i]}
    local created = tonumber(redis.call('HGET', hash, 'created') or '') or 0
    for old, short in pairs(RENAMED) do
      local value = redis.call('HGET', hash, old)
      if value and (short == 't' or short == 'f') then
        local ms = tonumber(value)
        value = ms and string.format('%d', ms - created) or nil
      end
      if value and not (short == 'a' and value == '0') and not (short == 'o' and value == 'null') then
        new[#new + 1] = short
        new[#new + 1] = value
      end
    end
    -- New fields first: deleting first could empty the hash, which deletes it (and its TTL).
    redis.call('HSET', hash, unpack(new))
    redis.call('HDEL', hash, unpack(OLD))
    converted = converted + 1
  end
end
return converted
