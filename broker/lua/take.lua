-- take: pop up to ARGV[1] IDs from the head of the queue and lease them to
-- one token, in one step: a crash at any instant leaves each ID either
-- queued or leased. When the caller names the task it saw at the head of
-- the queue (KEYS[6], from WaitReady) and that task is still first, the
-- take also starts it (start_task), so that a worker woken by a lone task
-- claims it in one round trip rather than two; unless names of the queue
-- have limits, whose checks need keys a take cannot know it will need:
-- the head is then left to start.lua with the rest.
-- The queue's settings gate the take: a paused queue gives nothing; one
-- with a max_running gives at most as many as it has slots free (none at
-- its cap), and its lease then counts against the cap (running["*"], and
-- running["@token"] = 1 for reaping; see gate.lua). When a max_length is
-- set and the take brings the queue from at least that length to below
-- it, "room <queue>" goes out on the events channel, for submitters
-- waiting for room.
-- KEYS[1] pending list, KEYS[2] leases zset, KEYS[3] the token's lease set,
-- KEYS[4] settings hash, KEYS[5] running hash, KEYS[6] (optional) the
-- hash of the task seen at the head
-- ARGV[1] count, ARGV[2] lease_ms, ARGV[3] lease token, ARGV[4] "1" when
-- the call may be a resend of one already applied. The events channel and
-- the queue's name, which only a queue with settings needs, are read from
-- the settings key (layout.Keys: "<prefix>:{<queue>}:settings", channel
-- "<prefix>:events"), not sent with every take.
-- returns {ids}, {ids, started} or {ids, started or false, flags}: ids are
-- the IDs leased and not started (deadline = Redis TIME + lease_ms), maybe
-- none; started, when the head task was taken, is its meta, payload and
-- counts as start_task returns them, or three false when it could not
-- start (canceled or gone: it then leaves the lease); flags is 'paused' or
-- 'at_cap' when the
-- settings gave nothing, else holds 'c' when the lease counts against
-- max_running, 'l' when names of the queue have limits (the start must
-- check them).
-- One lease covers the whole batch: one ZADD of the token, one SADD of the
-- IDs, no command per task but the head's start (and, for a head that may
-- not start, an SREM, and a ZREM when it was alone). The settings cost one
-- HGETALL per call (3.5k instructions when there are none: an HMGET of
-- four fields costs 8k); a cap, an HGET and an HSET more; a max_length, an
-- LLEN.
-- Idempotent by token when ARGV[4] is "1": a resent call finds the lease
-- set and returns its IDs (not started) rather than leasing a second batch
-- that nobody would start. A first send skips that SMEMBERS: its token is
-- new.
local token = ARGV[3]
if ARGV[4] == '1' then
  local prior = redis.call('SMEMBERS', KEYS[3])
  if #prior > 0 then
    local flags = ''
    if redis.call('HEXISTS', KEYS[5], '@' .. token) == 1 then
      flags = 'c'
    end
    if redis.call('HGET', KEYS[4], 'limits') == '1' then
      flags = flags .. 'l'
    end
    return {prior, false, flags}
  end
end
local s = {}
local flat = redis.call('HGETALL', KEYS[4])
for i = 1, #flat, 2 do
  s[flat[i]] = flat[i + 1]
end
if s.paused == '1' then
  return {{}, false, 'paused'}
end
local channel, queue = nil, nil
if #flat > 0 then
  local prefix
  prefix, queue = string.match(KEYS[4], '^(.*):{(.*)}:settings$')
  channel = prefix .. ':events'
end
local n = ARGV[1] -- a string: a number would be formatted for the call, at a cost
local cap, running = tonumber(s.max_running), 0
if cap then
  running = tonumber(redis.call('HGET', KEYS[5], '*')) or 0
  if running >= cap then
    return {{}, false, 'at_cap'}
  end
  n = math.min(tonumber(n), cap - running)
end
local ids = redis.call('LPOP', KEYS[1], n)
if not ids or #ids == 0 then -- an empty queue, or a count of 0
  return {{}}
end
local bound = tonumber(s.max_length)
if bound then
  local left = redis.call('LLEN', KEYS[1])
  if left < bound and left + #ids >= bound then
    redis.call('PUBLISH', channel, 'room ' .. queue)
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Every ID is leased before the head starts: were the start to fail, the
-- IDs popped would still be leased, and reaping would hand them back.
redis.call('ZADD', KEYS[2], string.format('%d', now + tonumber(ARGV[2])), token)
redis.call('SADD', KEYS[3], unpack(ids))
local flags = nil
if cap then
  running = running + #ids
  redis.call('HSET', KEYS[5], '*', running, '@' .. token, '1')
  flags = 'c'
end
if s.limits == '1' then
  flags = (flags or '') .. 'l'
end
if not KEYS[6] or ids[1] ~= id_of_key(KEYS[6]) or s.limits == '1' then
  if flags then
    return {ids, false, flags}
  end
  return {ids}
end
local prefix = token .. ',' .. string.format('%d', now) .. ','
local meta, payload, counts = start_task(KEYS[6], token, prefix, prefix .. '1')
if meta then
  return {{unpack(ids, 2)}, {meta, payload, counts}, flags}
end
-- The head may not start: it leaves the lease too.
redis.call('SREM', KEYS[3], ids[1])
if #ids == 1 then
  redis.call('ZREM', KEYS[2], token)
  if cap then
    redis.call('HDEL', KEYS[5], '@' .. token)
  end
end
if cap then
  gate_lib().queue_release(KEYS[5], KEYS[4], 1, channel, queue)
end
return {{unpack(ids, 2)}, {false, false, false}, flags}
