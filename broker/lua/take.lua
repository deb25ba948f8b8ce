-- take: pop up to ARGV[1] IDs from the head of the queue and lease them, in
-- one step: a crash at any instant leaves each ID either queued or leased.
-- KEYS[1] pending list, KEYS[2] leases zset, KEYS[3] owners hash
-- ARGV[1] count, ARGV[2] lease_ms, ARGV[3] lease token
-- returns the IDs leased (deadline = Redis TIME + lease_ms), maybe empty.
-- Not idempotent: a resent call leases a second batch, which nobody starts;
-- its leases expire and reap.lua queues those IDs again (delayed, not lost).
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids then
  return {}
end
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
local scored, owned = {}, {}
for i, id in ipairs(ids) do
  scored[2 * i - 1] = deadline
  scored[2 * i] = id
  owned[2 * i - 1] = id
  owned[2 * i] = ARGV[3]
end
redis.call('ZADD', KEYS[2], unpack(scored))
redis.call('HSET', KEYS[3], unpack(owned))
return ids
