-- purge: delete ended tasks of one status from a queue.
-- KEYS[1] the queue's index, KEYS[2] the zset of the status, KEYS[3..n]
-- task hashes
-- ARGV[1] the status (succeeded, failed or canceled), ARGV[2..n] the IDs,
-- in the order of KEYS[3..n], as read from KEYS[2] before the call
-- returns the number of tasks deleted. A task whose status changed since
-- (retried) is left alone; one whose hash is gone leaves both sets.
local deleted = 0
for i = 3, #KEYS do
  local id = ARGV[i - 1]
  local f = redis.call('HMGET', KEYS[i], 's', 'at', 'm')
  local status = status_of(f[1], f[2], f[3])
  if status == ARGV[1] or not status then
    if status then
      redis.call('DEL', KEYS[i])
      deleted = deleted + 1
    end
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[1], id)
  end
end
return deleted
