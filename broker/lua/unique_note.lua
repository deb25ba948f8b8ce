-- unique_note: records in a task's hash the unique key it claimed, once
-- claim_keys.lua wrote the task, so that a cancel can delete the claim
-- (unique_release.lua). Sent in the same round trip as the enqueue, only
-- for tasks with a unique key.
-- KEYS[1] the task's hash
-- ARGV[1] "kind,key"
-- returns 1 when written, 0 when the task was not written (its key was
-- held, or its queue full).
if redis.call('HEXISTS', KEYS[1], 'm') == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
return 1
