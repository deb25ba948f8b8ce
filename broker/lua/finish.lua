-- finish: record the outcomes of attempts of one queue, each fenced by its lease.
-- KEYS[1] leases zset, KEYS[2] owners hash, KEYS[3] scheduled zset,
-- KEYS[4] pending list, KEYS[5..n] task hashes
-- ARGV[1] done channel, then 7 per attempt, in the order of KEYS[5..n]:
-- task ID, lease token, outcome (succeeded | failed | retry | release),
-- result JSON (succeeded) or error text, retry delay ms, result TTL ms,
-- 1 if an earlier attempt may have left an error to clear on success else 0
-- returns one code per attempt: 1 applied; 2 already applied by this token
-- (a resent call: the hash keeps the token and the status this outcome
-- sets); 0 the lease is not held: a late (zombie) attempt, or a second
-- outcome for an attempt already finished; nothing is written. The IDs of
-- tasks made terminal are published on the channel in one message,
-- separated by spaces.
-- Cost: two commands per succeeded task (HSET, PEXPIRE) plus five per call
-- (TIME, HMGET of the owners, ZREM, HDEL, PUBLISH).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = tostring(now)
local sets = {succeeded = 'succeeded', failed = 'failed', retry = 'retrying', release = 'queued'}
local ids = {}
for i = 5, #KEYS do
  ids[i - 4] = ARGV[2 + (i - 5) * 7]
end
local owners = redis.call('HMGET', KEYS[2], unpack(ids))
local codes, freed, done, seen = {}, {}, {}, {}
for i = 5, #KEYS do
  local a = 1 + (i - 5) * 7
  local key = KEYS[i]
  local id, token, outcome, text = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  if seen[id] or owners[i - 4] ~= token then
    local f = redis.call('HMGET', key, 'tk', 's')
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
      redis.call('HSET', key, 's', 'queued') -- the token stays: start.lua sets a new one
      redis.call('LPUSH', KEYS[4], id)
    elseif outcome == 'retry' then
      redis.call('HSET', key, 's', 'retrying', 'e', text)
      redis.call('HINCRBY', key, 'f', 1)
      redis.call('ZADD', KEYS[3], now + tonumber(ARGV[a + 5]), id)
    else
      if outcome == 'succeeded' then
        redis.call('HSET', key, 's', 'succeeded', 'r', text, 'ft', nows)
        if ARGV[a + 7] == '1' then
          redis.call('HDEL', key, 'e')
        end
      else
        redis.call('HSET', key, 's', 'failed', 'e', text, 'ft', nows)
        redis.call('HINCRBY', key, 'f', 1)
      end
      local ttl = ARGV[a + 6]
      if ttl ~= '0' then
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
