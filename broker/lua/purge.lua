-- purge: delete ended tasks of one status from a queue.
-- KEYS[1] the failed or canceled zset, or for succeeded the kept hash;
-- KEYS[2..n] task hashes, KEYS[n+1..2n-1] the answers hashes a broadcast
-- task has beside its hash (layout BroadcastResults), in the same order
-- ARGV[1] the status (succeeded, failed or canceled), ARGV[2..n] the IDs,
-- in the order of KEYS[2..n], as read from the zset or the log before the
-- call
-- returns the number of tasks deleted. A task whose status is another
-- (changed since it was read, or never this one: the log holds every
-- task) is left alone; one whose hash is gone leaves the zset. A succeeded
-- task's count leaves the kept hash, under the minute its hash would have
-- expired in. A broadcast task's answers hash ('b' in its hash) is deleted
-- with it: one kept for good would otherwise stay for good.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local succeeded = ARGV[1] == 'succeeded'
local deleted = 0
local n = #ARGV
for i = 2, n do
  local id, key = ARGV[i], KEYS[i]
  local f = redis.call('HMGET', key, 's', 'at', 'm', 'b')
  local status = status_of(f[1], f[2], f[3])
  if status == ARGV[1] then
    if succeeded then
      local ttl = redis.call('PTTL', key)
      local minute = 'inf'
      if ttl >= 0 then
        minute = string.format('%d', math.ceil((now + ttl) / 60000) * 60000)
      end
      redis.call('HINCRBY', KEYS[1], minute, -1)
    end
    redis.call('DEL', key)
    if f[4] then
      redis.call('DEL', KEYS[n + i - 1])
    end
    deleted = deleted + 1
  end
  if not succeeded and (status == ARGV[1] or not status) then
    redis.call('ZREM', KEYS[1], id)
  end
end
return deleted
