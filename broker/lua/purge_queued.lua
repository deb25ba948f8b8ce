-- purge_queued: delete queued tasks from the head of a queue.
-- KEYS[1] pending list, KEYS[2..n] task hashes
-- ARGV[1..n-1] the IDs at the head of the list as read before the call, in
-- the order of KEYS[2..n]
-- returns {removed, deleted}: removed IDs left the head of the list (the
-- longest run of them still at its head, in order: workers may have taken
-- some since they were read), deleted of them were waiting tasks (queued,
-- or retrying and due) whose hashes were deleted. An ID of a task that is not queued (a canceled
-- task's tombstone) just leaves the list.
local head = redis.call('LRANGE', KEYS[1], 0, #ARGV - 1)
local removed = 0
while removed < #head and head[removed + 1] == ARGV[removed + 1] do
  removed = removed + 1
end
if removed == 0 then
  return {0, 0}
end
redis.call('LTRIM', KEYS[1], removed, -1)
local deleted = 0
for i = 1, removed do
  local key = KEYS[i + 1]
  local f = redis.call('HMGET', key, 's', 'at', 'm')
  local status = status_of(f[1], f[2], f[3])
  -- a retry whose time came waits in the list as retrying
  local waiting = status == 'queued' or status == 'retrying'
  if waiting then
    redis.call('DEL', key)
    deleted = deleted + 1
  end
end
return {removed, deleted}
