-- finish: record the outcomes of attempts of one queue, each fenced by its
-- lease.
-- KEYS[1] leases zset, KEYS[2] scheduled zset, KEYS[3] pending list,
-- KEYS[4] failed zset, then, only when ARGV[2] ends in "+", KEYS[5]
-- running hash, KEYS[6] held zset, KEYS[7] limits hash, KEYS[8] settings
-- hash; then the lease sets of m tokens, then one task hash per attempt
-- ARGV[1] done channel, ARGV[2] m, followed by "+" when some attempt holds
-- a max_running slot (see gate.lua), ARGV[3..2+m] the m lease tokens, in
-- the order of their sets; then 4 per attempt, in the order of the task
-- hashes: task ID; op: a letter for the outcome then the index of its
-- token (1..m), "s2" say; text: result JSON (s, S) or error text (f, r);
-- ms: the result TTL (s, S, f; "0" keeps the hash), the retry delay (r),
-- unused (q). Then, with "+": the events channel, the queue name, c, the
-- indexes of the c tokens whose leases count against the queue's
-- max_running, and a pair per attempt that holds a slot of its name: the
-- attempt's index (1..n), its name. An applied outcome gives those slots
-- back; nothing more is read or written for an attempt that holds none.
-- An op may end in "h" (an s, S, f or x of a task with a callback URL): the
-- task's ID then joins the hooks zset, due now, for its webhook (only if
-- not there yet); ARGV[2] then ends in "h" too, and the hooks zset is the
-- last key, after the task hashes.
-- The letters: s succeeded, S succeeded clearing the error an earlier
-- attempt left, f failed, r retry, q release (back to the head of the
-- queue), x canceled (the cancel of the running task was asked: see
-- cancel.lua). A call with x takes no other letter, and KEYS[4] is then
-- the canceled zset, which x joins as f joins the failed one.
-- A call with r or q ops ends ARGV[2] in "c" too (after any "h"), and
-- passes the canceled zset as the very last key (after the hooks zset): an
-- r or q attempt whose cancel was asked while it ran ("cx", see
-- cancel.lua) ends canceled instead, as x would (expiring per the result
-- TTL in its "m", joining the canceled zset, and the hooks zset when its op
-- ends in "h", which an r or q op of a task with a callback URL does), so
-- that a cancel answered 202 is never lost to a retry or a release. Only r
-- and q pay for it (an HMGET each): s, S, f and x read nothing more.
-- Every token has at least one attempt, and a task at most one
-- per call: the broker sends a second outcome for a task in a later call.
-- returns n, the number of attempts, when every one was applied (the usual
-- case: one integer, not one per attempt); else one code per attempt: 1
-- applied; 2 already applied by this token (a resent call, or a second
-- outcome the same as the first: the hash keeps the token and the status
-- this outcome sets); 0 the lease is not held: a late (zombie) attempt, or
-- a second outcome, unlike the first, for an attempt already finished;
-- nothing is written. The IDs of tasks made terminal are published on the
-- channel in one message, separated by spaces.
-- An attempt holds its lease while its ID is in its token's lease set (a
-- token is in the leases zset exactly while its set is not empty: take.lua
-- writes both, reap.lua deletes both). An applied outcome takes the ID out;
-- the last one out drops the lease.
-- A failed task joins the failed zset, scored by when its hash expires
-- ("+inf" when kept), to be listed and counted as failed; a succeeded one
-- costs nothing more here (workers count them, see broker.Heartbeat).
-- Cost: two commands per succeeded task (HSET, PEXPIREAT), two per call
-- (TIME, PUBLISH) and three per token (SMISMEMBER, SREM, SCARD),
-- plus a ZREM when a lease is dropped; and, for slots given back, an HDEL
-- per task that held one of its name's and a few commands per name. Four arguments per attempt, and an op is
-- parsed once per call, not once per attempt: each argument and each
-- string made in Lua costs Redis CPU on every task, as does each table
-- write (hence counters rather than #t, and codes only when needed).
local sets = {s = 'succeeded', S = 'succeeded', f = 'failed', r = 'retrying', q = 'queued', x = 'canceled'}
local m = tonumber(ARGV[2])
local slotted = not m
local lease0 = 4 -- KEYS[lease0 + k] is the lease set of token k
local hooks = false -- the hooks zset, when some attempt has a callback
local canceled = false -- the canceled zset, when some op is r or q
if slotted then
  local spec = ARGV[2]
  if string.byte(spec, -1) == 99 then -- "c"
    canceled, spec = KEYS[#KEYS], string.sub(spec, 1, -2)
  end
  if string.byte(spec, -1) == 104 then -- "h"
    hooks, spec = KEYS[#KEYS - (canceled and 1 or 0)], string.sub(spec, 1, -2)
  end
  m = tonumber(spec)
  slotted = not m
  if slotted then
    m, lease0 = tonumber(string.sub(spec, 1, -2)), 8
  end
end
local base = lease0 + m
local n = #KEYS - base
if hooks then
  n = n - 1
end
if canceled then
  n = n - 1
end
local parsed, ops, ids, nids = {}, {}, {}, {}
for k = 1, m do
  ids[k], nids[k] = {}, 0
end
for j = 1, n do
  local a = 2 + m + (j - 1) * 4
  local op = ARGV[a + 2]
  local o = parsed[op]
  if not o then
    local hook = string.byte(op, -1) == 104 -- "h"
    o = {string.sub(op, 1, 1), tonumber(string.sub(op, 2, hook and -2 or -1)), hook}
    if not sets[o[1]] or not ids[o[2]] or (hook and not hooks) or
      ((o[1] == 'r' or o[1] == 'q') and not canceled) then -- checked before any write
      return redis.error_reply('finish.lua: bad op ' .. op)
    end
    parsed[op] = o
  end
  ops[j] = o
  local k = o[2]
  local c = nids[k] + 1
  nids[k] = c
  ids[k][c] = ARGV[a + 1]
end
-- held[k][x] is 1 while the x-th attempt of token k holds its lease.
-- ids[k] then fills again from its start with the IDs this call takes out
-- of the lease set, nfreed[k] of them.
local held = {}
for k = 1, m do
  held[k] = redis.call('SMISMEMBER', KEYS[lease0 + k], unpack(ids[k]))
end
-- With slots: counted[k] when token k's lease counts against
-- max_running; named[j], the name of attempt j when it holds a slot of its
-- name; qfreed and freed, the slots given back. Made only then: a table
-- costs every call.
local counted, named, qfreed, freed = nil, nil, 0, nil
local e = 3 + m + 4 * n
if slotted then
  counted, named, freed = {}, {}, {}
  local c = tonumber(ARGV[e + 2])
  for i = 1, c do
    counted[tonumber(ARGV[e + 2 + i])] = true
  end
  for i = e + 3 + c, #ARGV, 2 do
    named[tonumber(ARGV[i])] = ARGV[i + 1]
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)
-- codes is filled from the first attempt not applied on: until then
-- every code is 1, and the reply is n.
local codes, done, ndone, at, nfreed, expiresAt = {}, {}, 0, {}, {}, {}
-- failed, made at the first failure, holds score, ID pairs for the ZADD
-- of the failed zset; nfailed its length.
local failed, nfailed = nil, 0
-- hooked, made at the first ended task with a callback, holds score, ID
-- pairs for the ZADD of the hooks zset; nhooked its length.
local hooked, nhooked = nil, 0
-- cxd, made at the first r or q turned canceled (its cancel was asked),
-- holds score, ID pairs for the ZADD of the canceled zset; ncxd its length.
local cxd, ncxd = nil, 0
local applied = true
for k = 1, m do
  at[k], nfreed[k] = 0, 0
end
for j = 1, n do
  local a = 2 + m + (j - 1) * 4
  local key = KEYS[base + j]
  local kind, k = ops[j][1], ops[j][2]
  local x = at[k] + 1
  at[k] = x
  local id = ARGV[a + 1]
  if held[k][x] ~= 1 then
    -- the attempt's token heads "at"
    local f = redis.call('HMGET', key, 'at', 's')
    local token = ARGV[2 + k]
    local mine = f[1] and string.match(f[1], '^([^,]*)') == token
    if applied then
      for i = 1, j - 1 do
        codes[i] = 1
      end
      applied = false
    end
    if mine and f[2] == sets[kind] then
      codes[j] = 2
    else
      codes[j] = 0
    end
  else
    if not applied then
      codes[j] = 1
    end
    local c = nfreed[k] + 1
    nfreed[k] = c
    ids[k][c] = id
    if slotted then
      if counted[k] then
        qfreed = qfreed + 1
      end
      local name = named[j]
      if name and redis.call('HDEL', key, 'sl') == 1 then
        freed[name] = (freed[name] or 0) + 1
      end
    end
    local text, ms = ARGV[a + 3], ARGV[a + 4]
    if kind == 'r' or kind == 'q' then
      local g = redis.call('HMGET', key, 'cx', 'm')
      if g[1] then -- canceled instead: "c", an x that joins the canceled zset
        kind = 'c'
        ms = string.format('%d', ttl_of(g[2]) or 0)
      end
    end
    if kind == 's' or kind == 'S' then
      if #text <= 64 then
        redis.call('HSET', key, 's', 'succeeded', 'r', text, 'ft', nows)
      else
        redis.call('HSET', key, 's', 'succeeded', 'ft', nows, unpack(spill('r', text)))
      end
      if kind == 'S' then
        redis.call('HDEL', key, 'e', parts_of('e'))
      end
    elseif kind == 'f' then
      redis.call('HSET', key, 's', 'failed', 'ft', nows, unpack(respill(key, 'e', text)))
      redis.call('HINCRBY', key, 'f', 1)
    elseif kind == 'r' then
      redis.call('HSET', key, 's', 'retrying', unpack(respill(key, 'e', text)))
      redis.call('HINCRBY', key, 'f', 1)
      redis.call('ZADD', KEYS[2], string.format('%d', now + tonumber(ms)), id)
    elseif kind == 'q' then -- the token stays; start.lua sets a new one
      redis.call('HSET', key, 's', 'queued')
      redis.call('LPUSH', KEYS[3], id)
    else -- x, c
      redis.call('HSET', key, 's', 'canceled', 'ft', nows)
    end
    if kind == 's' or kind == 'S' or kind == 'f' or kind == 'x' or kind == 'c' then
      local expireAt = '+inf'
      if ms ~= '0' then
        -- PEXPIREAT, with the time made once per TTL in the call: PEXPIRE
        -- makes Redis rewrite the command to PEXPIREAT for every task.
        expireAt = expiresAt[ms]
        if not expireAt then
          expireAt = string.format('%d', now + tonumber(ms))
          expiresAt[ms] = expireAt
        end
        redis.call('PEXPIREAT', key, expireAt)
      end
      ndone = ndone + 1
      done[ndone] = id
      if ops[j][3] then
        hooked = hooked or {}
        nhooked = nhooked + 2
        hooked[nhooked - 1], hooked[nhooked] = nows, id
      end
      if kind == 'f' or kind == 'x' then
        failed = failed or {}
        nfailed = nfailed + 2
        failed[nfailed - 1], failed[nfailed] = expireAt, id
      elseif kind == 'c' then
        cxd = cxd or {}
        ncxd = ncxd + 2
        cxd[ncxd - 1], cxd[ncxd] = expireAt, id
      end
    end
  end
end
for k = 1, m do
  if nfreed[k] > 0 then
    redis.call('SREM', KEYS[lease0 + k], unpack(ids[k], 1, nfreed[k]))
    if redis.call('SCARD', KEYS[lease0 + k]) == 0 then
      redis.call('ZREM', KEYS[1], ARGV[2 + k])
      if slotted and counted[k] then
        redis.call('HDEL', KEYS[5], '@' .. ARGV[2 + k])
      end
    end
  end
end
if slotted then
  local G = gate_lib()
  G.release({limits = KEYS[7], running = KEYS[5], held = KEYS[6], pending = KEYS[3]}, freed)
  G.queue_release(KEYS[5], KEYS[8], qfreed, ARGV[e], ARGV[e + 1])
end
if nfailed > 0 then
  redis.call('ZADD', KEYS[4], unpack(failed, 1, nfailed))
end
if ncxd > 0 then
  redis.call('ZADD', canceled, unpack(cxd, 1, ncxd))
end
if nhooked > 0 then
  redis.call('ZADD', hooks, 'NX', unpack(hooked, 1, nhooked))
end
if ndone > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(done, ' '))
end
if applied then
  return n
end
return codes
