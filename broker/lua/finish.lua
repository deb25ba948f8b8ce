-- finish: record the outcomes of attempts of one queue, each fenced by its
-- lease.
-- KEYS[1] leases zset, KEYS[2] scheduled zset, KEYS[3] pending list,
-- KEYS[4..3+m] the lease sets of m tokens, KEYS[4+m..n] one task hash per
-- attempt
-- ARGV[1] done channel, ARGV[2] m, ARGV[3..2+m] the m lease tokens, in the
-- order of their sets; then 4 per attempt, in the order of the task hashes:
-- task ID; op: a letter for the outcome then the index of its token
-- (1..m), "s2" say; text: result JSON (s, S) or error text (f, r); ms: the
-- result TTL (s, S, f; "0" keeps the hash), the retry delay (r), unused (q).
-- The letters: s succeeded, S succeeded clearing the error an earlier
-- attempt left, f failed, r retry, q release (back to the head of the
-- queue). Every token has at least one attempt.
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
-- Cost: two commands per succeeded task (HSET, PEXPIREAT), two per call
-- (TIME, PUBLISH) and three per token (SMISMEMBER, SREM, SCARD), plus a
-- ZREM when a lease is dropped. Four arguments per attempt, and an op is
-- parsed once per call, not once per attempt: each argument and each
-- string made in Lua costs Redis CPU on every task.
local sets = {s = 'succeeded', S = 'succeeded', f = 'failed', r = 'retrying', q = 'queued'}
local m = tonumber(ARGV[2])
local base = 3 + m
local n = #KEYS - base
local parsed, ops, ids = {}, {}, {}
for k = 1, m do
  ids[k] = {}
end
for j = 1, n do
  local a = 2 + m + (j - 1) * 4
  local op = ARGV[a + 2]
  local o = parsed[op]
  if not o then
    o = {string.sub(op, 1, 1), tonumber(string.sub(op, 2))}
    if not sets[o[1]] or not ids[o[2]] then -- checked before any write
      return redis.error_reply('finish.lua: bad op ' .. op)
    end
    parsed[op] = o
  end
  ops[j] = o
  local g = ids[o[2]]
  g[#g + 1] = ARGV[a + 1]
end
-- held[k][x] is 1 while the x-th attempt of token k holds its lease.
local held = {}
for k = 1, m do
  held[k] = redis.call('SMISMEMBER', KEYS[3 + k], unpack(ids[k]))
  ids[k] = {} -- now the IDs this call takes out of the lease set
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = tostring(now)
local codes, done, seen, at, expiresAt = {}, {}, {}, {}, {}
for k = 1, m do
  at[k] = 0
end
for j = 1, n do
  local a = 2 + m + (j - 1) * 4
  local key = KEYS[base + j]
  local kind, k = ops[j][1], ops[j][2]
  local x = at[k] + 1
  at[k] = x
  local id = ARGV[a + 1]
  if seen[id] or held[k][x] ~= 1 then
    -- the attempt's token heads "at", or is in "tk" (as reap.lua reads it)
    local f = redis.call('HMGET', key, 'at', 's', 'tk')
    local token = ARGV[2 + k]
    local mine = (f[1] and string.match(f[1], '^([^,]*)') == token) or f[3] == token
    if not seen[id] and mine and f[2] == sets[kind] then
      codes[j] = 2
    else
      codes[j] = 0
    end
  else
    seen[id] = true
    codes[j] = 1
    local freed = ids[k]
    freed[#freed + 1] = id
    local text, ms = ARGV[a + 3], ARGV[a + 4]
    if kind == 's' or kind == 'S' then
      redis.call('HSET', key, 's', 'succeeded', 'r', text, 'ft', nows)
      if kind == 'S' then
        redis.call('HDEL', key, 'e')
      end
    elseif kind == 'f' then
      redis.call('HSET', key, 's', 'failed', 'e', text, 'ft', nows)
      redis.call('HINCRBY', key, 'f', 1)
    elseif kind == 'r' then
      redis.call('HSET', key, 's', 'retrying', 'e', text)
      redis.call('HINCRBY', key, 'f', 1)
      redis.call('ZADD', KEYS[2], now + tonumber(ms), id)
    else -- q: the token stays; start.lua sets a new one
      redis.call('HSET', key, 's', 'queued')
      redis.call('LPUSH', KEYS[3], id)
    end
    if kind == 's' or kind == 'S' or kind == 'f' then
      if ms ~= '0' then
        -- PEXPIREAT, with the time made once per TTL in the call: PEXPIRE
        -- makes Redis rewrite the command to PEXPIREAT for every task.
        local expireAt = expiresAt[ms]
        if not expireAt then
          expireAt = string.format('%.0f', now + tonumber(ms))
          expiresAt[ms] = expireAt
        end
        redis.call('PEXPIREAT', key, expireAt)
      end
      done[#done + 1] = id
    end
  end
end
for k = 1, m do
  local freed = ids[k]
  if #freed > 0 then
    redis.call('SREM', KEYS[3 + k], unpack(freed))
    if redis.call('SCARD', KEYS[3 + k]) == 0 then
      redis.call('ZREM', KEYS[1], ARGV[2 + k])
    end
  end
end
if #done > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(done, ' '))
end
return codes
