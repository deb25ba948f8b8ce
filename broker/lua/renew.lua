-- renew: push back the deadlines of leases still held.
-- KEYS[1] leases zset
-- ARGV[1] lease_ms, ARGV[2..n] lease tokens
-- returns one integer per token: 1 renewed, 0 the lease is no longer held
-- (its tasks all finished, or it expired and was reaped). Idempotent.
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local deadlines = string.format('%d', deadline)
local out = {}
for i = 2, #ARGV do
  local held = 0
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', deadlines, ARGV[i])
    held = 1
  end
  out[i - 1] = held
end
return out
