-- cancel: cancel a task that has not started, or ask the worker running
-- one to stop it.
-- KEYS[1] task hash, KEYS[2] its queue's canceled zset, KEYS[3] pending
-- list, KEYS[4] scheduled zset, KEYS[5] held zset, KEYS[6] cancels zset,
-- KEYS[7] hooks zset
-- ARGV[1] task ID, ARGV[2] done channel, ARGV[3] events channel, ARGV[4]
-- queue name
-- returns the task's status after the call: 'canceled' when it was
-- scheduled, queued, retrying, or a running broadcast (now canceled, or
-- already canceled by a resent call), the unchanged status otherwise, or
-- false when there is no such task.
-- A running task stays running: the first call records when the cancel
-- was asked ("cx") and adds the ID to the cancels zset, which workers
-- read when they renew their leases, and every call announces
-- "cancel <queue> <id>" on the events channel, on which the worker that
-- runs it cancels the handler's context at once. The worker then records
-- the attempt as canceled (finish.lua, fenced by the lease); a worker lost
-- meanwhile leaves it to reap.lua, which cancels rather than requeues it.
-- A task waiting for a time (scheduled, retrying, or queued for its turn
-- under a rate) leaves the scheduled zset. Any other's ID leaves the list when it is among the last or the first scanLimit IDs (LPOS, then
-- LREM from that end: bounded work), so the queue's length counts only
-- live tasks; deeper in a long queue it stays as a tombstone, which
-- start.lua, or take.lua when it meets it at the head, drops: cancel stays
-- bounded however long the queue. A task held for a slot of its name
-- leaves the held set (one ZREM: its member is its name and ID), so that
-- a slot given back goes to a task that can use it. A task with a
-- callback URL joins the hooks zset, due now, for its webhook.
-- A broadcast task ('b') runs on its targets' workers outside their pools'
-- leases, so no worker would act on a cancel request: a running one is
-- canceled outright, as a queued one is. The workers still running their
-- copies are not interrupted; their answers are ignored once it ended
-- (broadcast_answer.lua), and tasks.Client.Cancel drops its inboxes.
local scanLimit = 1000
local f = redis.call('HMGET', KEYS[1], 's', 'at', 'm', 'cx', 'cb', 'b')
local status = status_of(f[1], f[2], f[3])
if not status then
  return false
end
if status == 'running' and f[6] then
  status = 'queued' -- a broadcast: canceled outright (see above)
end
if status == 'running' then
  if not f[4] then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('HSET', KEYS[1], 'cx', string.format('%d', now))
    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', string.format('(%d', now - 86400000))
    redis.call('ZADD', KEYS[6], string.format('%d', now), ARGV[1])
  end
  redis.call('PUBLISH', ARGV[3], 'cancel ' .. ARGV[4] .. ' ' .. ARGV[1])
  return status
end
if status ~= 'queued' and status ~= 'retrying' and status ~= 'scheduled' then
  return status
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 's', 'canceled', 'ft', string.format('%d', now))
local ttl = ttl_of(f[3])
local expireAt = '+inf'
if ttl and ttl > 0 then
  expireAt = string.format('%d', now + ttl)
  redis.call('PEXPIREAT', KEYS[1], expireAt)
end
redis.call('ZADD', KEYS[2], expireAt, ARGV[1])
local name = string.match(f[3], '^[^,]*,[^,]*,[^,]*,[^,]*,(.*)$')
if name then
  redis.call('ZREM', KEYS[5], name .. ' ' .. ARGV[1])
end
if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then
  -- It waited for a time: a delay, a retry, or its turn under a rate.
elseif redis.call('LPOS', KEYS[3], ARGV[1], 'RANK', -1, 'MAXLEN', scanLimit) then
  redis.call('LREM', KEYS[3], -1, ARGV[1])
elseif redis.call('LPOS', KEYS[3], ARGV[1], 'MAXLEN', scanLimit) then
  redis.call('LREM', KEYS[3], 1, ARGV[1])
end
if f[5] then
  redis.call('ZADD', KEYS[7], 'NX', string.format('%d', now), ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 'canceled'
