-- unique_release: deletes the unique-key claim of a canceled task, which
-- claim_keys.lua would treat as free anyway, so that it does not linger
-- until its expiry (up to 30 days).
-- KEYS[1] the task's hash, KEYS[2] the claim (layout Unique)
-- ARGV[1] the task's ID
-- returns 1 when the claim was deleted, else 0 (the task is not canceled,
-- or the claim names another task or is gone).
if redis.call('HGET', KEYS[1], 's') ~= 'canceled' then
  return 0
end
local cur = redis.call('GET', KEYS[2])
if not cur or string.sub(cur, 1, #ARGV[1] + 1) ~= ARGV[1] .. ' ' then
  return 0
end
redis.call('DEL', KEYS[2])
return 1
