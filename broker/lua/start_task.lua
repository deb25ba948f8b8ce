-- start_task: prepended, after status.lua and gate.lua, to the scripts that
-- start tasks (start.lua, take.lua). start_task(key, token, prefix, first,
-- g) marks the task of hash key running under the lease token and returns
-- meta ("max_retries,timeout_ms,ttl_ms,queue,name"; empty when missing),
-- payload (empty when missing; joined when spill.lua stored it in parts,
-- which costs an HMGET more) and counts: false for a first attempt (the
-- usual case: attempt 1, no failures, no crashes), else
-- "attempt,failures,crashes" (an empty count is 0). Whether an event
-- stream watches the task is in its payload's mark (watch.lua), which the
-- broker reads: "w" is not read here. It returns nil when the task may not
-- start: gone, canceled, finished, or running under
-- another token; or, with the gate g of a queue whose names have limits
-- (nil otherwise), when the gate holds it or books it a later turn (see
-- gate.lua's check, which also notes the tasks that take a slot of their
-- name). The caller then drops its ID from the lease.
-- prefix is "token,now_ms," and first is prefix .. "1", both made once per
-- call. Idempotent: a task already started under token is returned
-- unchanged.
-- Cost: two commands (HMGET, HSET). Failures and crashes are read only for
-- a task that has started before ("at" is there): a first attempt reads
-- four fields, not six. An attempt is one field, "at":
-- "token,started_ms,number" (two fields fewer to write on every start than
-- the token, the start time and the count apart). A first attempt writes
-- "at" alone: a status left out (enqueue.lua does not write "queued") stays
-- out, and reads as running once "at" is there. Every later status is
-- written. Without a gate, the one Lua operation more than a start with no
-- limits at all is the test of g: each operation here costs every task
-- (about 70 instructions; five more cost 370 per task, 1% of a claim).
-- A field the hash lacks costs more: it is a scan of its whole listpack.
-- Reading "w" (watched) here cost about 2,300 instructions per task, 6% of
-- a take and start, hence the payload's mark instead.
local next_count = {['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4', ['4'] = '5', ['5'] = '6'}
local function start_task(key, token, prefix, first, g)
  local f = redis.call('HMGET', key, 's', 'at', 'm', 'p')
  local at, failures, crashes = f[2], '', ''
  local status = status_of(f[1], at, f[3])
  local mine, attempt = false, nil
  if at then
    mine = string.sub(at, 1, #token + 1) == token .. ','
    attempt = string.match(at, '(%d+)$') or '0'
    local fc = redis.call('HMGET', key, 'f', 'c')
    failures, crashes = fc[1] or '', fc[2] or ''
  end
  if not mine and (status == 'queued' or status == 'retrying') then
    if g and not gate_lib().check(g, key, f[3]) then
      return nil
    end
    if at then
      attempt = next_count[attempt] or tostring(tonumber(attempt) + 1)
      redis.call('HSET', key, 's', 'running', 'at', prefix .. attempt)
    elseif not f[1] then
      redis.call('HSET', key, 'at', first)
    else
      redis.call('HSET', key, 's', 'running', 'at', first)
    end
    status, mine = 'running', true
  end
  if status ~= 'running' or not mine then
    return nil
  end
  local counts = false
  if at then
    counts = attempt .. ',' .. failures .. ',' .. crashes
  end
  return f[3] or '', f[4] and joined(key, f[4]) or '', counts
end

