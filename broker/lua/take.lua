-- take: pop up to ARGV[1] IDs from the head of the queue and lease them, in
-- one step: a crash at any instant leaves each ID either queued or leased.
-- KEYS[1] pending list, KEYS[2] leases zset, KEYS[3] owners hash,
-- KEYS[4] receipt list of this take (named by its token)
-- ARGV[1] count, ARGV[2] lease_ms, ARGV[3] lease token
-- returns the IDs leased (deadline = Redis TIME + lease_ms), maybe empty.
-- Idempotent by token: the IDs are kept in the receipt until start.lua runs
-- (or the lease expires), so a call resent after a dropped connection gets
-- the same IDs rather than leasing a second batch that nobody would start.
local prior = redis.call('LRANGE', KEYS[4], 0, -1)
if #prior > 0 then
  return prior
end
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids then
  return {}
end
local t = redis.call('TIME')
local deadline = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2]))
local scored, owned = {}, {}
for i, id in ipairs(ids) do
  scored[2 * i - 1] = deadline
  scored[2 * i] = id
  owned[2 * i - 1] = id
  owned[2 * i] = ARGV[3]
end
redis.call('ZADD', KEYS[2], unpack(scored))
redis.call('HSET', KEYS[3], unpack(owned))
redis.call('RPUSH', KEYS[4], unpack(ids))
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return ids
