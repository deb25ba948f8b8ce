-- finish: record the outcomes of attempts of one queue, each fenced by its
-- lease.
-- KEYS[1] leases zset, KEYS[2] scheduled zset, KEYS[3] pending list,
-- KEYS[4..3+m] the lease sets of m tokens, KEYS[4+m..n] one task hash per
-- attempt
-- ARGV[1] done channel, ARGV[2] m, ARGV[3..2+m] the m lease tokens, in the
-- order of their sets; then 7 per attempt, in the order of the task hashes:
-- task ID, index of its token (1..m), outcome (succeeded | failed | retry |
-- release), result JSON (succeeded) or error text, retry delay ms, result
-- TTL ms, 1 if an earlier attempt may have left an error to clear on
-- success else 0. Every token has at least one attempt.
-- returns one code per attempt: 1 applied; 2 already applied by this token
-- (a resent call: the hash keeps the token and the status this outcome
-- sets); 0 the lease is not held: a late (zombie) attempt, or a second
-- outcome for an attempt already finished; nothing is written. The IDs of
-- tasks made terminal are published on the channel in one message,
-- separated by spaces.
-- An attempt holds its lease while its ID is in its token's lease set (a
-- token is in the leases zset exactly while its set is not empty: take.lua
-- writes both, reap.lua deletes both). An applied outcome takes the ID out;
-- the last one out drops the lease.
-- Cost: two commands per succeeded task (HSET, PEXPIRE), two per call
-- (TIME, PUBLISH) and three per token (SMISMEMBER, SREM, SCARD), plus a
-- ZREM when a lease is dropped.
local m = tonumber(ARGV[2])
local base = 3 + m
local groups = {}
for k = 1, m do
  groups[k] = {ids = {}, at = {}}
end
for j = 1, #KEYS - base do
  local a = 2 + m + (j - 1) * 7
  local g = groups[tonumber(ARGV[a + 2])]
  g.ids[#g.ids + 1] = ARGV[a + 1]
  g.at[#g.at + 1] = j
end
local held = {}
for k = 1, m do
  local g = groups[k]
  local r = redis.call('SMISMEMBER', KEYS[3 + k], unpack(g.ids))
  for x, j in ipairs(g.at) do
    held[j] = r[x] == 1
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = tostring(now)
local sets = {succeeded = 'succeeded', failed = 'failed', retry = 'retrying', release = 'queued'}
local codes, freed, done, seen = {}, {}, {}, {}
for j = 1, #KEYS - base do
  local a = 2 + m + (j - 1) * 7
  local key = KEYS[base + j]
  local id, k, outcome, text = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], ARGV[a + 4]
  if seen[id] or not held[j] then
    local f = redis.call('HMGET', key, 'tk', 's')
    if not seen[id] and f[1] == ARGV[2 + k] and f[2] == sets[outcome] then
      codes[j] = 2
    else
      codes[j] = 0
    end
  else
    seen[id] = true
    codes[j] = 1
    local fk = freed[k]
    if not fk then
      fk = {}
      freed[k] = fk
    end
    fk[#fk + 1] = id
    if outcome == 'release' then
      redis.call('HSET', key, 's', 'queued') -- the token stays: start.lua sets a new one
      redis.call('LPUSH', KEYS[3], id)
    elseif outcome == 'retry' then
      redis.call('HSET', key, 's', 'retrying', 'e', text)
      redis.call('HINCRBY', key, 'f', 1)
      redis.call('ZADD', KEYS[2], now + tonumber(ARGV[a + 5]), id)
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
for k = 1, m do
  local fk = freed[k]
  if fk then
    redis.call('SREM', KEYS[3 + k], unpack(fk))
    if redis.call('SCARD', KEYS[3 + k]) == 0 then
      redis.call('ZREM', KEYS[1], ARGV[2 + k])
    end
  end
end
if #done > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(done, ' '))
end
return codes
