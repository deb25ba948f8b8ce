-- reap: hand the tasks of one expired lease back to the queue; fail poison
-- tasks.
-- KEYS[1] leases zset, KEYS[2] pending list, KEYS[3] the token's lease set,
-- KEYS[4] failed zset, KEYS[5] running hash, KEYS[6] held zset, KEYS[7]
-- limits hash, KEYS[8] settings hash, KEYS[9] canceled zset, KEYS[10..n-1]
-- task hashes, KEYS[n] hooks zset
-- ARGV[1] max crash redeliveries (-1: no limit), ARGV[2] done channel,
-- ARGV[3] lease token, ARGV[4] events channel, ARGV[5] queue name,
-- ARGV[6] the failed TTL (ms; "0" none), ARGV[7..n] the lease set's IDs as
-- listed before the call, in the order of KEYS[10..n] (a lease set never
-- gains IDs)
-- returns {requeued, failed, canceled}. A lease renewed since it was
-- listed is left alone, and one already reaped is gone, so the call is
-- idempotent. An ID
-- still in the lease set was either taken and never started (its hash holds
-- another token, or none), and goes back to the queue; or started under
-- this lease and never finished, which counts as a crash: the crash after
-- the last allowed redelivery fails the task as poison instead of cycling
-- forever; its record is kept for the longer of its result TTL and the
-- failed TTL (a result TTL of 0 keeps it for good), and one with a
-- callback URL joins the hooks zset for its webhook. The max_running slots the lease held are given back (see
-- gate.lua): one of the queue's per ID handed back when the lease counted
-- against its cap, and one of its name's per started task that held one.
-- A started task whose cancel was asked ("cx", see cancel.lua) is
-- canceled rather than handed back: its worker was lost before it could
-- record the cancel (and joins the hooks zset too, with a callback URL);
-- it counts as canceled.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token = ARGV[3]
local deadline = redis.call('ZSCORE', KEYS[1], token)
if not deadline or tonumber(deadline) > now then
  return {0, 0, 0}
end
local held = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  held[id] = true
end
local maxCrashes = tonumber(ARGV[1])
local counted = redis.call('HEXISTS', KEYS[5], '@' .. token) == 1
local requeued, failed, canceled, qfreed, freed = 0, 0, 0, 0, {}
local failedTTL = tonumber(ARGV[6])
-- ended finishes what makes a task terminal here: its hash expires after
-- ttl (kept for good when 0 or absent), it joins set (failed or canceled)
-- scored by that expiry, the hooks zset when it has a callback URL, and
-- the done channel.
local function ended(key, id, ttl, set, callback)
  local expireAt = '+inf'
  if ttl and ttl > 0 then
    expireAt = string.format('%d', now + ttl)
    redis.call('PEXPIREAT', key, expireAt)
  end
  redis.call('ZADD', set, expireAt, id)
  if callback then
    redis.call('ZADD', KEYS[#KEYS], 'NX', string.format('%d', now), id)
  end
  redis.call('PUBLISH', ARGV[2], id)
end
for i = 7, #ARGV do
  local id, key = ARGV[i], KEYS[i + 3]
  if held[id] then
    if counted then
      qfreed = qfreed + 1
    end
    -- It started under this lease if the token heads its "at"
    -- ("token,started_ms,number").
    local f = redis.call('HMGET', key, 's', 'at', 'm', 'sl', 'cx', 'cb')
    local at = f[2]
    local status = status_of(f[1], at, f[3])
    local mine = at and string.match(at, '^([^,]*)') == token
    if status == 'running' and mine and f[4] == '1' then
      redis.call('HDEL', key, 'sl')
      local name = gate_lib().name_of(f[3])
      if name then
        freed[name] = (freed[name] or 0) + 1
      end
    end
    if status == 'running' and mine and f[5] then
      redis.call('HSET', key, 's', 'canceled', 'ft', string.format('%d', now))
      ended(key, id, ttl_of(f[3]), KEYS[9], f[6])
      canceled = canceled + 1
    elseif status == 'running' and mine then
      local crashes = redis.call('HINCRBY', key, 'c', 1)
      -- the token goes, so that a resent start under it does not take
      -- the task for its own
      redis.call('HSET', key, 'at', (string.gsub(at, '^[^,]*', '', 1)))
      if maxCrashes >= 0 and crashes > maxCrashes then
        redis.call('HSET', key, 's', 'failed', 'ft', string.format('%d', now), unpack(respill(key, 'e',
          'poison: the worker running this task was lost ' .. crashes ..
          ' times (lease expired); not retried')))
        local ttl = ttl_of(f[3])
        if ttl and ttl > 0 and failedTTL > ttl then
          ttl = failedTTL
        end
        ended(key, id, ttl, KEYS[4], f[6])
        failed = failed + 1
      else
        redis.call('HSET', key, 's', 'queued', unpack(respill(key, 'e',
          'worker lost: lease expired before the attempt finished')))
        redis.call('LPUSH', KEYS[2], id)
        requeued = requeued + 1
      end
    elseif not mine and (status == 'queued' or status == 'retrying') then
      redis.call('LPUSH', KEYS[2], id)
      requeued = requeued + 1
    end
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], token)
local G = gate_lib()
if counted then
  redis.call('HDEL', KEYS[5], '@' .. token)
  G.queue_release(KEYS[5], KEYS[8], qfreed, ARGV[4], ARGV[5])
end
G.release({limits = KEYS[7], running = KEYS[5], held = KEYS[6], pending = KEYS[2]}, freed)
return {requeued, failed, canceled}
