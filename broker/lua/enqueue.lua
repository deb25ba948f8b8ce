-- enqueue: create tasks' hashes and append their IDs to one queue, once.
-- KEYS[1] pending list, KEYS[2] the queue's log, KEYS[3..n] task hashes,
-- then, only with a schedule (below), the queue's scheduled zset
-- ARGV: 3 per task, in the order of the task hashes: id, meta
-- ("max_retries,timeout_ms,ttl_ms,queue,name"), payload (JSON); then,
-- when some tasks are to run later, a schedule: the events channel, the
-- queue's name, and 2 per such task: its number (1 for KEYS[3]) and when
-- it is due, "<ms>" (Unix time) or "+<ms>" (after now, on Redis's clock)
-- returns created_ms (Redis clock): one integer for the whole call when
-- every task is new (the usual case: one reply, not one per task), else an
-- array of one per task. Idempotent by ID: a task whose hash exists (a
-- resent call) keeps its created_ms and is not queued twice.
-- The status is left out: absent, it reads as queued (see status.lua).
-- A task due after now is written scheduled, with its due time ('ra'),
-- and joins the scheduled zset instead of the list (promote.lua moves it
-- once due); one due already is queued at once. When the earliest of them
-- is earlier than every task scheduled before, "due <queue> <ms>" goes to
-- the events channel, so that the workers' maintainers, asleep until the
-- earliest time they knew, wake for it.
-- The new IDs join the queue's log too, from the same table: the listing
-- of tasks costs an append per call, no command per task.
-- Cost: one command per task (HSET, of three fields) plus four per call
-- (TIME, EXISTS, two RPUSH); one EXISTS over all the hashes finds the
-- usual case, where none exists yet. A schedule adds two fields to the
-- HSET of each task it holds back, and ZADD, ZRANK and at most one
-- PUBLISH per call.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now) -- tostring formats a float: 2.6k instructions more
-- With a schedule, ARGV holds more than 3 per task hash, and the last KEY
-- is the scheduled zset. later maps a task's number to its due time (ms),
-- for those due after now, and text to the same as a decimal string (an
-- absolute time comes as one; a delay is formatted once per value).
local last, later, text, ready, held, earliest, first = #KEYS
if #ARGV > 3 * last - 6 then
  last = #KEYS - 1
  later, text, ready, held = {}, {}, {}, {}
  local spec0, at0, text0
  for j = 3 * (last - 2) + 3, #ARGV, 2 do
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
    end
  end
end
local some = redis.call('EXISTS', unpack(KEYS, 3, last)) > 0
local out, fresh, nfresh = {}, {}, 0
for i = 3, last do
  local a = (i - 3) * 3
  local created = some and redis.call('HGET', KEYS[i], 'ct')
  if created then
    out[i - 2] = tonumber(created)
  else
    local at = later and later[i - 2]
    if at then
      local ats = text[i - 2]
      redis.call('HSET', KEYS[i], 'm', ARGV[a + 2], 'p', ARGV[a + 3], 'ct', nows, 's', 'scheduled', 'ra', ats)
      held[#held + 1] = ats
      held[#held + 1] = ARGV[a + 1]
      if not earliest or at < earliest then
        earliest, first = at, i - 2
      end
    else
      redis.call('HSET', KEYS[i], 'm', ARGV[a + 2], 'p', ARGV[a + 3], 'ct', nows)
      if ready then
        ready[#ready + 1] = ARGV[a + 1]
      end
    end
    nfresh = nfresh + 1
    fresh[nfresh] = ARGV[a + 1]
    if some then
      out[i - 2] = now
    end
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
  local from = 3 * (last - 2)
  redis.call('ZADD', KEYS[#KEYS], unpack(held))
  if redis.call('ZRANK', KEYS[#KEYS], ARGV[(first - 1) * 3 + 1]) == 0 then
    redis.call('PUBLISH', ARGV[from + 1], 'due ' .. ARGV[from + 2] .. ' ' .. text[first])
  end
end
if not some then
  return now
end
return out
