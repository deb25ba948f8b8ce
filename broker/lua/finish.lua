-- finish: record the outcomes of attempts of one queue, each fenced by its lease.
-- KEYS[1] leases zset, KEYS[2] owners hash, KEYS[3] scheduled zset,
-- KEYS[4] pending list, KEYS[5..n] task hashes
-- ARGV[1] done channel, then 6 per attempt, in the order of KEYS[5..n]:
-- task ID, lease token, outcome (succeeded | failed | retry | release),
-- result JSON (succeeded) or error text, retry delay ms, result TTL ms
-- returns one code per attempt: 1 applied; 2 already applied by this token
-- (a resent call: the hash keeps the token and the status this outcome
-- sets); 0 the lease is not held: a late (zombie) attempt, or a second
-- outcome for an attempt already finished; nothing is written. The IDs of
-- tasks made terminal are published on the channel in one message,
-- separated by spaces.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sets = {succeeded = 'succeeded', failed = 'failed', retry = 'retrying', release = 'queued'}
local codes, freed, done, seen = {}, {}, {}, {}
for i = 5, #KEYS do
  local a = 1 + (i - 5) * 6
  local key = KEYS[i]
  local id, token, outcome, text = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  if seen[id] or redis.call('HGET', KEYS[2], id) ~= token then
    local f = redis.call('HMGET', key, 'token', 'status')
    if not seen[id] and f[1] == token and f[2] == sets[outcome] then
      codes[i - 4] = 2
    else
      codes[i - 4] = 0
    end
  else
    seen[id] = true
    codes[i - 4] = 1
    freed[#freed + 1] = id
    if outcome == 'release' then
      redis.call('HSET', key, 'status', 'queued') -- the token stays: start.lua sets a new one
      redis.call('LPUSH', KEYS[4], id)
    elseif outcome == 'retry' then
      redis.call('HSET', key, 'status', 'retrying', 'error', text)
      redis.call('HINCRBY', key, 'failures', 1)
      redis.call('ZADD', KEYS[3], now + tonumber(ARGV[a + 5]), id)
    else
      if outcome == 'succeeded' then
        redis.call('HSET', key, 'status', 'succeeded', 'result', text, 'finished', now)
        redis.call('HDEL', key, 'error')
      else
        redis.call('HSET', key, 'status', 'failed', 'error', text, 'finished', now)
        redis.call('HINCRBY', key, 'failures', 1)
      end
      local ttl = tonumber(ARGV[a + 6])
      if ttl and ttl > 0 then
        redis.call('PEXPIRE', key, ttl)
      end
      done[#done + 1] = id
    end
  end
end
if #freed > 0 then
  redis.call('ZREM', KEYS[1], unpack(freed))
  redis.call('HDEL', KEYS[2], unpack(freed))
end
if #done > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(done, ' '))
end
return codes
