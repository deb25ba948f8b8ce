-- finish: record the outcome of one attempt, fenced by its lease.
-- KEYS[1] task hash, KEYS[2] leases zset, KEYS[3] owners hash,
-- KEYS[4] scheduled zset, KEYS[5] pending list
-- ARGV[1] task ID, ARGV[2] lease token, ARGV[3] outcome: succeeded | failed |
-- retry | release, ARGV[4] result JSON (succeeded) or error text,
-- ARGV[5] retry delay ms (retry), ARGV[6] done channel
-- returns 1 applied; 2 already applied by this token (a resent call: the
-- hash keeps the token and has left 'running');
-- 0 the lease is not held: a late (zombie) attempt, nothing is written.
local id, token, outcome = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[3], id) ~= token then
  local f = redis.call('HMGET', KEYS[1], 'token', 'status')
  if f[1] == token and f[2] ~= 'running' then
    return 2
  end
  return 0
end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if outcome == 'release' then
  redis.call('HSET', KEYS[1], 'status', 'queued')
  redis.call('HDEL', KEYS[1], 'token')
  redis.call('LPUSH', KEYS[5], id)
  return 1
end
if outcome == 'retry' then
  redis.call('HSET', KEYS[1], 'status', 'retrying', 'error', ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'failures', 1)
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), id)
  return 1
end
if outcome == 'succeeded' then
  redis.call('HSET', KEYS[1], 'status', 'succeeded', 'result', ARGV[4], 'finished_ms', now)
  redis.call('HDEL', KEYS[1], 'error')
else
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', KEYS[1], 'failures', 1)
end
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl_ms'))
if ttl and ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
redis.call('PUBLISH', ARGV[6], id)
return 1
