-- reap_task: hand back tasks leased one by one, as builds before leases
-- covered a claimed batch did, whose lease expired: in the leases zset the
-- member is the task ID itself, and an owners hash maps it to its token.
-- Such leases are left only by workers of an older build that died; this
-- script lets an upgraded reaper hand their tasks back.
-- KEYS[1] leases zset, KEYS[2] owners hash (old layout), KEYS[3] pending
-- list, KEYS[4..n] task hashes
-- ARGV[1] max crash redeliveries (-1: no limit), ARGV[2] done channel,
-- ARGV[3..n] task IDs, in the order of KEYS[4..n]
-- returns {requeued, failed}. A lease renewed since it was listed is left
-- alone, so the call is idempotent. An attempt that had started counts as
-- a crash, as in reap.lua.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxCrashes = tonumber(ARGV[1])
local requeued, failed = 0, 0
for i = 3, #ARGV do
  local id, key = ARGV[i], KEYS[i + 1]
  local deadline = redis.call('ZSCORE', KEYS[1], id)
  if deadline and tonumber(deadline) <= now then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    local f = redis.call('HMGET', key, 's', 'at', 'm')
    local status = f[1]
    if not status and f[3] then -- left out (see start.lua)
      status = f[2] and 'running' or 'queued'
    end
    if status == 'running' then
      local crashes = redis.call('HINCRBY', key, 'c', 1)
      redis.call('HDEL', key, 'tk')
      if maxCrashes >= 0 and crashes > maxCrashes then
        redis.call('HSET', key, 's', 'failed', 'ft', now, 'e',
          'poison: the worker running this task was lost ' .. crashes ..
          ' times (lease expired); not retried')
        -- the result TTL: as cancel.lua reads it (a task of an old worker
        -- may have been enqueued by a newer API)
        local m = redis.call('HMGET', key, 'm', 'o', 'tl')
        local ttl = tonumber(m[3])
        if m[1] or m[2] then
          ttl = tonumber(string.match(m[1] or m[2], '^[^,]*,[^,]*,(%d+)'))
        end
        if ttl and ttl > 0 then
          redis.call('PEXPIRE', key, ttl)
        end
        redis.call('PUBLISH', ARGV[2], id)
        failed = failed + 1
      else
        redis.call('HSET', key, 's', 'queued', 'e',
          'worker lost: lease expired before the attempt finished')
        redis.call('LPUSH', KEYS[3], id)
        requeued = requeued + 1
      end
    elseif status == 'queued' or status == 'retrying' then
      redis.call('LPUSH', KEYS[3], id)
      requeued = requeued + 1
    end
  end
end
return {requeued, failed}
