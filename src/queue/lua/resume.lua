-- resume.lua: restart claiming from a paused queue and wake its idle workers.
-- KEYS[1] paused flag, KEYS[2] wake list
-- returns: 1
redis.call('DEL', KEYS[1])
wake(KEYS[2])
return 1
