-- tidy: drop from a queue's listing structures what expired: the failed
-- and canceled tasks whose records expired, and the IDs at the head of
-- its log whose tasks are gone (expired or purged), up to the first that
-- is not.
-- KEYS[1] log list, KEYS[2] logbase, KEYS[3] failed zset, KEYS[4] canceled
-- zset, KEYS[5..n] the hashes of the IDs at the head of the log, as read
-- ARGV[1..n-4] those IDs, in order
-- returns {log entries dropped, zset entries dropped}. When the head is no
-- longer ARGV[1] (another worker tidied first) the log is left alone. The
-- base grows by the entries dropped, so that positions (log_read.lua)
-- stay put. The gone prefix is found by EXISTS over prefixes of the
-- hashes, halving: one call when all are gone, the usual case.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ended = redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) +
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local n = #ARGV
if n == 0 or redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then
  return {0, ended}
end
local function gone(k) -- are the first k tasks all gone?
  return redis.call('EXISTS', unpack(KEYS, 5, 4 + k)) == 0
end
local lo, hi = 0, n
if gone(n) then
  lo = n
else
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    if gone(mid) then
      lo = mid
    else
      hi = mid
    end
  end
end
if lo > 0 then
  redis.call('LTRIM', KEYS[1], lo, -1)
  redis.call('INCRBY', KEYS[2], lo)
end
return {lo, ended}
