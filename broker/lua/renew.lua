-- renew: push back the deadlines of leases still held by their tokens.
-- KEYS[1] leases zset, KEYS[2] owners hash
-- ARGV[1] lease_ms, then pairs ARGV[2k], ARGV[2k+1] = task ID, lease token
-- returns one integer per pair: 1 renewed, 0 the lease is no longer held
-- (expired and reaped, or taken by another worker). Idempotent.
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local held = 0
  if redis.call('HGET', KEYS[2], id) == token then
    redis.call('ZADD', KEYS[1], 'XX', deadline, id)
    held = 1
  end
  out[#out + 1] = held
end
return out
