-- promote: move tasks whose retry time has come to the tail of the queue,
-- and drop from the failed and canceled zsets the tasks whose records
-- expired.
-- KEYS[1] scheduled zset, KEYS[2] pending list, KEYS[3] failed zset,
-- KEYS[4] canceled zset
-- ARGV[1] limit of each step
-- returns {moved, next_ms, trimmed}: next_ms is the earliest time still
-- scheduled, or -1 when nothing is; trimmed counts the entries dropped.
-- Idempotent. An ended task's hash expires at its score (the scripts that
-- end it set both from one time), so an entry due here names a hash
-- already gone.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
if #due > 0 then
  redis.call('ZREM', KEYS[1], unpack(due))
  redis.call('RPUSH', KEYS[2], unpack(due))
end
local nextDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local nextMs = -1
if nextDue[2] then
  nextMs = tonumber(nextDue[2])
end
local trimmed = 0
for k = 3, 4 do
  local gone = redis.call('ZRANGE', KEYS[k], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  if #gone > 0 then
    redis.call('ZREM', KEYS[k], unpack(gone))
    trimmed = trimmed + #gone
  end
end
return {#due, nextMs, trimmed}
