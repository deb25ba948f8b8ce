-- workers: list the live workers.
-- KEYS[1] workers zset, KEYS[2] workers' info hash
-- ARGV[1] timeout_ms: a worker whose last heartbeat is older is dead
-- returns {id, heartbeat_ms, info, ...} for each live worker, by ID.
-- Read-only: the dead are forgotten by the heartbeats of the living.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGE', KEYS[1], now - tonumber(ARGV[1]), '+inf', 'BYSCORE', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
end
return out
