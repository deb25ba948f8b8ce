-- expired: list leases whose deadline has passed on the Redis clock.
-- KEYS[1] leases zset
-- ARGV[1] limit
-- returns up to limit lease tokens, oldest deadline first. Read-only.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]))
