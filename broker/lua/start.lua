-- start: mark the tasks of one lease running and return what a worker needs
-- to run them.
-- KEYS[1] leases zset, KEYS[2] the token's lease set, KEYS[3..n] task hashes
-- ARGV[1] lease token (a task's ID is the end of its key, 32 hex digits)
-- returns three entries per ID, one flat array (a nested one costs a Lua
-- table per task): meta ("max_retries,timeout_ms,ttl_ms,queue,name"; the
-- queue may be empty), payload, and counts: false for a first attempt (the
-- usual case: attempt 1, no failures, no crashes), else
-- "attempt,failures,crashes" (an empty count is 0); or three false
-- when the lease is not held or its deadline has passed
-- (reaping will hand the tasks back), or when the task is gone, canceled
-- or finished (it then leaves the lease, and a lease left empty is
-- dropped). A missing meta or payload is an empty string (a nil would end
-- the array). The counts travel as one entry, not three: each entry costs
-- Redis a conversion from Lua and a reply, on every task.
-- Idempotent: a task already started under this token is returned unchanged.
-- Cost: two commands per task (HMGET, HSET) plus two per call (ZSCORE,
-- TIME), and two or three more when some are dropped. Failures and crashes
-- are read only for a task that has started before ("at" is there): a
-- task's first attempt, the usual case, reads four fields, not six.
-- An attempt is one field, "at": "token,started_ms,number" (two fields
-- fewer to write on every start than the token, the start time and the
-- count apart: 0.75 µs of Redis CPU per task). A first attempt, the usual
-- case, is written with a string made once per call, and alone: a status
-- left out (enqueue.lua does not write "queued") stays out, and reads as
-- running once "at" is there. Every later status is written.
-- nextCount[a] is a + 1 for the usual attempt counts: tostring(tonumber(a)
-- + 1) formats a float, 0.7 µs of Redis CPU per task.
local nextCount = {['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5', ['5'] = '6'}
local token = ARGV[1]
local out = {}
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = redis.call('ZSCORE', KEYS[1], token)
if not deadline or tonumber(deadline) <= nowms then
  for i = 1, (#KEYS - 2) * 3 do
    out[i] = false
  end
  return out
end
local prefix = token .. ',' .. string.format('%d', nowms) .. ','
local first = prefix .. '1'
local dropped = {}
for i = 3, #KEYS do
  local key = KEYS[i]
  local f = redis.call('HMGET', key, 's', 'at', 'm', 'p')
  local at, failures, crashes = f[2], '', ''
  local status = status_of(f[1], at, f[3])
  local unwritten = status and not f[1]
  local mine, attempt = false, nil
  if at then
    mine = string.sub(at, 1, #token + 1) == token .. ','
    attempt = string.match(at, '(%d+)$') or '0'
    local fc = redis.call('HMGET', key, 'f', 'c')
    failures, crashes = fc[1] or '', fc[2] or ''
  end
  if not mine and (status == 'queued' or status == 'retrying') then
    if at then
      attempt = nextCount[attempt] or tostring(tonumber(attempt) + 1)
      redis.call('HSET', key, 's', 'running', 'at', prefix .. attempt)
    elseif unwritten then
      redis.call('HSET', key, 'at', first)
    else
      redis.call('HSET', key, 's', 'running', 'at', first)
    end
    status, mine = 'running', true
  end
  local o = (i - 3) * 3
  if status == 'running' and mine then
    local counts = false
    if at then
      counts = attempt .. ',' .. failures .. ',' .. crashes
    end
    out[o + 1], out[o + 2], out[o + 3] = f[3] or '', f[4] or '', counts
  else
    out[o + 1], out[o + 2], out[o + 3] = false, false, false
    dropped[#dropped + 1] = string.sub(key, -32)
  end
end
if #dropped > 0 then
  redis.call('SREM', KEYS[2], unpack(dropped))
  if redis.call('SCARD', KEYS[2]) == 0 then
    redis.call('ZREM', KEYS[1], token)
  end
end
return out
