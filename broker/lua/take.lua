-- take: pop up to ARGV[1] IDs from the head of the queue and lease them to
-- one token, in one step: a crash at any instant leaves each ID either
-- queued or leased.
-- KEYS[1] pending list, KEYS[2] leases zset, KEYS[3] the token's lease set
-- ARGV[1] count, ARGV[2] lease_ms, ARGV[3] lease token
-- returns the IDs leased (deadline = Redis TIME + lease_ms), maybe empty.
-- One lease covers the whole batch: one ZADD of the token, one SADD of the
-- IDs, no command per task. Idempotent by token: a call resent after a
-- dropped connection finds the lease set and returns its IDs rather than
-- leasing a second batch that nobody would start.
local prior = redis.call('SMEMBERS', KEYS[3])
if #prior > 0 then
  return prior
end
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids or #ids == 0 then -- an empty queue, or a count of 0
  return {}
end
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], string.format('%d', deadline), ARGV[3])
redis.call('SADD', KEYS[3], unpack(ids))
return ids
