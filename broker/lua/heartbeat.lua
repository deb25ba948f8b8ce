-- heartbeat: record a worker as alive, and forget those that stopped.
-- KEYS[1] workers zset, KEYS[2] workers' info hash
-- ARGV[1] worker ID, ARGV[2] its info (JSON), ARGV[3] timeout_ms: a
-- worker whose last heartbeat is older is dead. An empty info removes the
-- worker (it stops).
-- returns the number of dead workers forgotten.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
local dead = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])), 'BYSCORE')
if #dead > 0 then
  redis.call('ZREM', KEYS[1], unpack(dead))
  redis.call('HDEL', KEYS[2], unpack(dead))
end
return #dead
