-- enqueue: create tasks' hashes and append their IDs to one queue, once,
-- within the queue's max_length.
-- KEYS[1] pending list, KEYS[2] the queue's log, KEYS[3..n+2] n task
-- hashes, KEYS[n+3] the queue's settings hash, KEYS[n+4] its reserved
-- places (sorted set), then, only with a schedule (below), KEYS[n+5] the
-- queue's scheduled zset
-- ARGV: 3 per task, in the order of the task hashes: id, meta
-- ("max_retries,timeout_ms,ttl_ms,queue,name"), payload (JSON); then,
-- optionally (required before a schedule), the bound: how max_length
-- applies to the call:
--   absent or 'each'  each new task is refused on its own once the queue
--            is full (submissions of several callers, group-committed; an
--            argument less on the busiest call, 800 instructions)
--   'all'    the new tasks are refused together unless all fit (a batch)
--   'none'   no check (hold.lua found the queue unbounded)
--   'tok:k'  hold.lua reserved k places for the call's new tasks, under
--            token tok: the call gives them back (ZREM of tok:1..tok:k)
--            and does not check
-- then, when some tasks are to run later, a schedule: the events channel,
-- the queue's name, and 2 per such task: its number (1 for KEYS[3]) and
-- when it is due, "<ms>" (Unix time) or "+<ms>" (after now, on Redis's
-- clock).
-- A bound may end in "+<k>": the last k ARGV, after any schedule, are more
-- fields of some tasks, a triple each: the task's number (1 for KEYS[3]),
-- a field and its value, written only when the task is created (a
-- callback URL, say: tasks without such fields pay nothing for them).
-- returns created_ms (Redis clock): one integer for the whole call when
-- every task is new and written (the usual case: one reply, not one per
-- task), else an array of one per task. Idempotent by ID: a task whose
-- hash exists (a resent call) keeps its created_ms, is not queued twice
-- and needs no room. A task refused for lack of room replies -max_length
-- in its place; under 'all' the whole reply is then -max_length. A refusal
-- comes before any write of the tasks it refuses.
-- The status is left out: absent, it reads as queued (see status.lua).
-- A task due after now is written scheduled, with its due time ('ra'),
-- and joins the scheduled zset instead of the list (promote.lua moves it
-- once due); one due already is queued at once. When the earliest of them
-- is earlier than every task scheduled before, "due <queue> <ms>" goes to
-- the events channel, so that the workers' maintainers, asleep until the
-- earliest time they knew, wake for it.
-- The new IDs join the queue's log too, from the same table: the listing
-- of tasks costs an append per call, no command per task.
-- Room: max_length less the pending list's length, less the places
-- reserved for batches spanning several queues (live members of KEYS[n+4]).
-- Tasks due later (delayed tasks, retries) are not in the list: they
-- neither count nor need room.
-- Cost: one command per task (HSET, of three fields) plus five per call
-- (TIME, HGET of max_length, EXISTS, two RPUSH); one EXISTS over all the
-- hashes finds the usual case, where none exists yet. A bounded queue adds
-- LLEN and ZCOUNT; a schedule adds two fields to the HSET of each task it
-- holds back, and ZADD, ZRANK and at most one PUBLISH per call.
local ntasks = #KEYS - 4
local scheduled = false
local last = #ARGV -- the end of the schedule: more fields may follow it
if #ARGV > 3 * ntasks + 1 and string.sub(KEYS[#KEYS], -10) == ':scheduled' then
  ntasks = ntasks - 1 -- a schedule follows the bound: one more key
  scheduled = KEYS[#KEYS]
end
local bound = ARGV[ntasks * 3 + 1]
local nmore = 0
if bound then
  local b, k = string.match(bound, '^(.*)%+(%d+)$')
  if b then
    bound, nmore = b, tonumber(k)
    last = last - nmore
  end
end
if bound == 'each' then
  bound = nil
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now) -- tostring formats a float: 2.6k instructions more
-- later maps a task's number to its due time (ms), for those due after
-- now, and text to the same as a decimal string (an absolute time comes as
-- one; a delay is formatted once per value).
local later, text, nlater, held, earliest, first = false, false, 0, false, false, false
if scheduled then
  later, text, held = {}, {}, {}
  local spec0, at0, text0
  for j = 3 * ntasks + 4, last, 2 do
    local spec = ARGV[j + 1]
    if spec ~= spec0 then
      spec0 = spec
      if string.sub(spec, 1, 1) == '+' then
        at0 = now + tonumber(string.sub(spec, 2))
        text0 = string.format('%d', at0)
      else
        at0, text0 = tonumber(spec), spec
      end
    end
    if at0 > now then
      local n = tonumber(ARGV[j])
      later[n], text[n] = at0, text0
      nlater = nlater + 1
    end
  end
end
local existing = redis.call('EXISTS', unpack(KEYS, 3, ntasks + 2))
local some = existing > 0
local created = {}
if some then
  for i = 1, ntasks do
    created[i] = redis.call('HGET', KEYS[i + 2], 'ct')
  end
end
local room, max = false, false -- room false: no bound applies to each task
if not bound or bound == 'all' then
  max = redis.call('HGET', KEYS[ntasks + 3], 'max_length')
  if max then
    max = tonumber(max)
    room = max - redis.call('LLEN', KEYS[1]) - redis.call('ZCOUNT', KEYS[ntasks + 4], nows, '+inf')
    if bound then -- 'all': the new tasks queued now must all fit
      local need = ntasks - existing - nlater
      if some and later then -- count exactly: a resent task may be one due later
        need = 0
        for i = 1, ntasks do
          if not created[i] and not later[i] then
            need = need + 1
          end
        end
      end
      if need > 0 and need > room then
        return -max
      end
      room = false -- all fit
    end
  end
elseif bound ~= 'none' then
  local tok, k = string.match(bound, '^(.+):(%d+)$')
  local members = {}
  for i = 1, tonumber(k) do
    members[i] = tok .. ':' .. i
  end
  if #members > 0 then
    redis.call('ZREM', KEYS[ntasks + 4], unpack(members))
  end
end
local track = some or room -- out holds a reply per task
local out, fresh, nfresh = {}, {}, 0
local ready = scheduled and {} -- without a schedule, every new task is queued: fresh
for i = 1, ntasks do
  local a = (i - 1) * 3
  local at = later and later[i]
  if created[i] then
    out[i] = created_of(ARGV[a + 1], created[i])
  elseif room and not at and room < 1 then
    out[i] = -max
  else
    if at then
      local ats = text[i]
      if #ARGV[a + 3] <= 64 then
        redis.call('HSET', KEYS[i + 2], 'm', ARGV[a + 2], 'p', ARGV[a + 3], 'ct', ct_of(ARGV[a + 1], now), 's', 'scheduled', 'ra', ats)
      else
        redis.call('HSET', KEYS[i + 2], 'm', ARGV[a + 2], 'ct', ct_of(ARGV[a + 1], now), 's', 'scheduled', 'ra', ats, unpack(spill('p', ARGV[a + 3])))
      end
      held[#held + 1] = ats
      held[#held + 1] = ARGV[a + 1]
      if not earliest or at < earliest then
        earliest, first = at, i
      end
    else
      if #ARGV[a + 3] <= 64 then
        redis.call('HSET', KEYS[i + 2], 'm', ARGV[a + 2], 'p', ARGV[a + 3], 'ct', ct_of(ARGV[a + 1], now))
      else
        redis.call('HSET', KEYS[i + 2], 'm', ARGV[a + 2], 'ct', ct_of(ARGV[a + 1], now), unpack(spill('p', ARGV[a + 3])))
      end
      if ready then
        ready[#ready + 1] = ARGV[a + 1]
      end
      if room then
        room = room - 1
      end
    end
    nfresh = nfresh + 1
    fresh[nfresh] = ARGV[a + 1]
    if track then
      out[i] = now
    end
  end
end
for j = last + 1, #ARGV, 3 do
  local i = tonumber(ARGV[j])
  if not created[i] and not (out[i] and out[i] < 0) then
    redis.call('HSET', KEYS[i + 2], unpack(spill(ARGV[j + 1], ARGV[j + 2])))
  end
end
if nfresh > 0 then
  if not ready then
    redis.call('RPUSH', KEYS[1], unpack(fresh))
  elseif #ready > 0 then
    redis.call('RPUSH', KEYS[1], unpack(ready))
  end
  redis.call('RPUSH', KEYS[2], unpack(fresh))
end
if earliest then
  -- Once added, the earliest of them ranks first when no task scheduled
  -- before is earlier (a tie announces a time already known: harmless).
  local from = 3 * ntasks + 1
  redis.call('ZADD', scheduled, unpack(held))
  if redis.call('ZRANK', scheduled, ARGV[(first - 1) * 3 + 1]) == 0 then
    redis.call('PUBLISH', ARGV[from + 1], 'due ' .. ARGV[from + 2] .. ' ' .. text[first])
  end
end
if not track or (not some and nfresh == ntasks) then
  return now
end
return out
