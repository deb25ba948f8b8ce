-- cancel: cancel a task that has not started.
-- KEYS[1] task hash
-- ARGV[1] task ID, ARGV[2] done channel
-- returns the task's status after the call: 'canceled' when it was queued or
-- retrying (now canceled, or already canceled by a resent call), the
-- unchanged status otherwise, or false when there is no such task.
-- The ID stays in its list or zset as a tombstone: start.lua drops it, which
-- keeps cancel O(1) however long the queue.
local f = redis.call('HMGET', KEYS[1], 's', 'at', 'm')
local status = f[1]
if not status then
  if not f[3] then -- a hash that leaves its status out has its meta
    return false
  end
  -- left out by enqueue.lua and a first start (see start.lua)
  status = f[2] and 'running' or 'queued'
end
if status ~= 'queued' and status ~= 'retrying' then
  return status
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 's', 'canceled', 'ft', now)
-- The result TTL is the third number of the meta, or of the options of
-- a hash written by an earlier build, or earlier still its own field.
local m = redis.call('HMGET', KEYS[1], 'm', 'o', 'tl')
local ttl = tonumber(m[3])
if m[1] or m[2] then
  ttl = tonumber(string.match(m[1] or m[2], '^[^,]*,[^,]*,(%d+)'))
end
if ttl and ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 'canceled'
