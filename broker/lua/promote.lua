-- promote: move tasks whose retry time has come to the tail of the queue.
-- KEYS[1] scheduled zset, KEYS[2] pending list
-- ARGV[1] limit
-- returns {moved, next_ms}: next_ms is the earliest time still scheduled, or
-- -1 when nothing is. Idempotent.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]))
if #due > 0 then
  redis.call('ZREM', KEYS[1], unpack(due))
  redis.call('RPUSH', KEYS[2], unpack(due))
end
local nextDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local nextMs = -1
if nextDue[2] then
  nextMs = tonumber(nextDue[2])
end
return {#due, nextMs}
