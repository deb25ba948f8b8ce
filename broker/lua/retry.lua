-- retry: queue again a task that failed or was canceled, keeping its ID,
-- its attempts and its last error.
-- KEYS[1] task hash, KEYS[2] pending list, KEYS[3] scheduled zset,
-- KEYS[4] failed zset, KEYS[5] canceled zset
-- ARGV[1] task ID
-- returns 'retried' when the task was failed or canceled (now queued), its
-- unchanged status otherwise (a resent call finds it queued, or further
-- on), or false when there is no such task. A broadcast task is never
-- retried: 'broadcast' (submit it again).
-- The last run's cancel request ("cx") and progress ("pg") go, so that the
-- next run starts clean and a cancel of it is recorded (cancel.lua) anew.
-- A task canceled while queued may still have its ID in the queue (cancel
-- leaves it as a tombstone): the task then takes that place again rather
-- than a second one, so that it is never queued twice. LPOS reads the
-- queue, O(n); a retry is an operator's action, not a task's path.
local f = redis.call('HMGET', KEYS[1], 's', 'at', 'm', 'b')
local status = status_of(f[1], f[2], f[3])
if not status then
  return false
end
if f[4] then -- a broadcast task ('b'): its targets were the workers of its day
  return 'broadcast'
end
if status ~= 'failed' and status ~= 'canceled' then
  return status
end
local id = ARGV[1]
redis.call('PERSIST', KEYS[1])
redis.call('HSET', KEYS[1], 's', 'queued')
redis.call('HDEL', KEYS[1], 'ft', 'cx', 'pg', 'wh', parts_of('wh')) -- the last run's cancel request and progress, and a webhook's state, start again
redis.call('ZREM', KEYS[4], id)
redis.call('ZREM', KEYS[5], id)
redis.call('ZREM', KEYS[3], id) -- a tombstone of a cancel while retrying
if not redis.call('LPOS', KEYS[2], id) then
  redis.call('RPUSH', KEYS[2], id)
end
return 'retried'
