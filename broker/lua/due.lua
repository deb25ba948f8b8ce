-- due: list the tasks of a scheduled zset whose time has come, on the
-- Redis clock.
-- KEYS[1] scheduled zset
-- ARGV[1] limit
-- returns {now_ms, next_ms, id...}: up to limit IDs due now, earliest
-- first, and next_ms, the earliest time after now still scheduled (-1 when
-- none is). Read-only: promote.lua moves them, with their hashes declared.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {now, -1}
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]))
for i, id in ipairs(due) do
  out[i + 2] = id
end
local later = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
if later[2] then
  out[2] = tonumber(later[2])
end
return out
