-- take: pop up to ARGV[1] IDs from the head of the queue and lease them to
-- one token, in one step: a crash at any instant leaves each ID either
-- queued or leased. When the caller names the task it saw at the head of
-- the queue (KEYS[4], from WaitReady) and that task is still first, the
-- take also starts it (start_task), so that a worker woken by a lone task
-- claims it in one round trip rather than two.
-- KEYS[1] pending list, KEYS[2] leases zset, KEYS[3] the token's lease set,
-- KEYS[4] (optional) the hash of the task seen at the head
-- ARGV[1] count, ARGV[2] lease_ms, ARGV[3] lease token, ARGV[4] "1" when
-- the call may be a resend of one already applied
-- returns {ids} or {ids, started}: ids are the IDs leased and not started
-- (deadline = Redis TIME + lease_ms), maybe none; started, when the head
-- task was taken, is its meta, payload and counts as start_task returns
-- them, or three false when it could not start (canceled or gone: it then
-- leaves the queue and is not leased).
-- One lease covers the whole batch: one ZADD of the token, one SADD of the
-- IDs, no command per task but the head's start (and, for a head that may
-- not start, an SREM, and a ZREM when it was alone). Idempotent by token when
-- ARGV[4] is "1": a resent call finds the lease set and returns its IDs
-- (not started) rather than leasing a second batch that nobody would
-- start. A first send skips that SMEMBERS: its token is new.
if ARGV[4] == '1' then
  local prior = redis.call('SMEMBERS', KEYS[3])
  if #prior > 0 then
    return {prior}
  end
end
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids or #ids == 0 then -- an empty queue, or a count of 0
  return {{}}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token = ARGV[3]
-- Every ID is leased before the head starts: were the start to fail, the
-- IDs popped would still be leased, and reaping would hand them back.
redis.call('ZADD', KEYS[2], string.format('%d', now + tonumber(ARGV[2])), token)
redis.call('SADD', KEYS[3], unpack(ids))
if not KEYS[4] or ids[1] ~= string.sub(KEYS[4], -32) then
  return {ids}
end
local prefix = token .. ',' .. string.format('%d', now) .. ','
local meta, payload, counts = start_task(KEYS[4], token, prefix, prefix .. '1')
if meta then
  return {{unpack(ids, 2)}, {meta, payload, counts}}
end
-- The head may not start (canceled or gone): it leaves the lease too.
redis.call('SREM', KEYS[3], ids[1])
if #ids == 1 then
  redis.call('ZREM', KEYS[2], token)
end
return {{unpack(ids, 2)}, {false, false, false}}
