-- retry_ended: queue again a batch of one queue's failed tasks, keeping
-- their IDs, attempts and last errors (retry.lua for many at once).
-- KEYS[1] failed zset, KEYS[2] pending list, KEYS[3..n] task hashes
-- ARGV[1..n-2] the IDs, in the order of KEYS[3..n], as read from the zset
-- before the call
-- returns the number of tasks queued again. A task whose status is no
-- longer failed (retried meanwhile, by another call or one by one) is left
-- alone, so that concurrent calls queue each task once; it and one whose
-- hash is gone (expired) leave the zset, which holds failed tasks only, so
-- that a later batch never reads them again. A failed task's ID is in no list (it was
-- taken to run, and no retry is scheduled for it), so neither the queue
-- nor the scheduled zset is searched for it, unlike retry.lua, which also
-- takes canceled tasks: the work is bounded by the batch.
-- As in retry.lua, the last run's "cx" and "pg" go.
local ids, n = {}, 0
for i = 3, #KEYS do
  local id, key = ARGV[i - 2], KEYS[i]
  local f = redis.call('HMGET', key, 's', 'at', 'm')
  local status = status_of(f[1], f[2], f[3])
  if status == 'failed' then
    redis.call('PERSIST', key)
    redis.call('HSET', key, 's', 'queued')
    redis.call('HDEL', key, 'ft', 'cx', 'pg', 'wh', parts_of('wh')) -- see retry.lua
    n = n + 1
    ids[n] = id
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
if n > 0 then
  redis.call('ZREM', KEYS[1], unpack(ids, 1, n))
  redis.call('RPUSH', KEYS[2], unpack(ids, 1, n))
end
return n
