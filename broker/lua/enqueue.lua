-- enqueue: create tasks' hashes and append their IDs to one queue, once.
-- KEYS[1] pending list, KEYS[2] the queue's log, KEYS[3..n] task hashes
-- ARGV: 3 per task, in the order of KEYS[3..n]: id, meta
-- ("max_retries,timeout_ms,ttl_ms,queue,name"), payload (JSON)
-- returns created_ms (Redis clock): one integer for the whole call when
-- every task is new (the usual case: one reply, not one per task), else an
-- array of one per task. Idempotent by ID: a task whose hash exists (a
-- resent call) keeps its created_ms and is not queued twice.
-- The status is left out: absent, it reads as queued (see status.lua).
-- The new IDs join the queue's log too, from the same table: the listing
-- of tasks costs an append per call, no command per task.
-- Cost: one command per task (HSET, of three fields) plus four per call
-- (TIME, EXISTS, two RPUSH); one EXISTS over all the hashes finds the
-- usual case, where none exists yet.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now) -- tostring formats a float: 2.6k instructions more
local some = redis.call('EXISTS', unpack(KEYS, 3)) > 0
local out, fresh, nfresh = {}, {}, 0
for i = 3, #KEYS do
  local a = (i - 3) * 3
  local created = some and redis.call('HGET', KEYS[i], 'ct')
  if created then
    out[i - 2] = tonumber(created)
  else
    redis.call('HSET', KEYS[i], 'm', ARGV[a + 2], 'p', ARGV[a + 3], 'ct', nows)
    nfresh = nfresh + 1
    fresh[nfresh] = ARGV[a + 1]
    if some then
      out[i - 2] = now
    end
  end
end
if nfresh > 0 then
  redis.call('RPUSH', KEYS[1], unpack(fresh))
  redis.call('RPUSH', KEYS[2], unpack(fresh))
end
if not some then
  return now
end
return out
