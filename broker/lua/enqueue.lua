-- enqueue: create tasks' hashes and append their IDs to one queue, once,
-- within the queue's max_length.
-- KEYS[1] pending list, KEYS[2] the queue's log, KEYS[3..n-2] task hashes,
-- KEYS[n-1] the queue's settings hash, KEYS[n] its room held (sorted set)
-- ARGV: 3 per task, in the order of the task hashes: id, meta
-- ("max_retries,timeout_ms,ttl_ms,queue,name"), payload (JSON); then,
-- optionally, the bound: how max_length applies to the call:
--   absent   each new task is refused on its own once the queue is full
--            (submissions of several callers, group-committed; an
--            argument less on the busiest call, 800 instructions)
--   'all'    the new tasks are refused together unless all fit (a batch)
--   'none'   no check (hold.lua found the queue unbounded)
--   'tok:k'  hold.lua held k places for the call's new tasks, under token
--            tok: the call gives them back (ZREM of tok:1..tok:k) and
--            does not check
-- returns created_ms (Redis clock): one integer for the whole call when
-- every task is new and queued (the usual case: one reply, not one per
-- task), else an array of one per task. Idempotent by ID: a task whose
-- hash exists (a resent call) keeps its created_ms, is not queued twice
-- and needs no room. A task refused for lack of room replies -max_length
-- in its place; under 'all' the whole reply is then -max_length. A refusal
-- comes before any write of the tasks it refuses.
-- The status is left out: absent, it reads as queued (see status.lua).
-- The new IDs join the queue's log too, from the same table: the listing
-- of tasks costs an append per call, no command per task.
-- Room: max_length less the pending list's length, less the room held
-- for batches spanning several queues (live members of KEYS[n]). Tasks
-- scheduled for later (retries, delayed tasks) are not in the list and do
-- not count.
-- Cost: one command per task (HSET, of three fields) plus five per call
-- (TIME, HGET of max_length, EXISTS, two RPUSH); a bounded queue adds
-- LLEN and ZCOUNT. One EXISTS over all the hashes finds the usual case,
-- where none exists yet.
local ntasks = #KEYS - 4
local bound = ARGV[ntasks * 3 + 1] -- nil: 'each'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now) -- tostring formats a float: 2.6k instructions more
local existing = redis.call('EXISTS', unpack(KEYS, 3, ntasks + 2))
local some = existing > 0
local room, max = false, false -- room false: no bound applies to each task
if not bound or bound == 'all' then
  max = redis.call('HGET', KEYS[ntasks + 3], 'max_length')
  if max then
    max = tonumber(max)
    room = max - redis.call('LLEN', KEYS[1]) - redis.call('ZCOUNT', KEYS[ntasks + 4], nows, '+inf')
    if bound then -- 'all'
      local need = ntasks - existing
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
for i = 3, ntasks + 2 do
  local a = (i - 3) * 3
  local created = some and redis.call('HGET', KEYS[i], 'ct')
  if created then
    out[i - 2] = tonumber(created)
  elseif room and room < 1 then
    out[i - 2] = -max
  else
    redis.call('HSET', KEYS[i], 'm', ARGV[a + 2], 'p', ARGV[a + 3], 'ct', nows)
    nfresh = nfresh + 1
    fresh[nfresh] = ARGV[a + 1]
    if track then
      out[i - 2] = now
      if room then
        room = room - 1
      end
    end
  end
end
if nfresh > 0 then
  redis.call('RPUSH', KEYS[1], unpack(fresh))
  redis.call('RPUSH', KEYS[2], unpack(fresh))
end
if not track or (not some and nfresh == ntasks) then
  return now
end
return out
