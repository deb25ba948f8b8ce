-- hold: hold places in one bounded queue for a batch that spans several
-- queues, before any of its tasks is written: the batch is written (by
-- enqueue.lua, one call per queue) only once every bounded queue held
-- room, so that a refusal leaves it queued nowhere.
-- KEYS[1] the queue's settings hash, KEYS[2] pending list, KEYS[3] its reserved
-- places (sorted set: tok:i -> expiry ms), KEYS[4..n] the batch's task hashes
-- in this queue
-- ARGV[1] token, ARGV[2] how long the places stay held (ms)
-- returns the bound for enqueue.lua: 'none' when the queue has no
-- max_length or every task exists already (a resent batch: nothing to
-- queue), else 'tok:k' with k places held for the k new tasks (members
-- tok:1..tok:k, which expire after ARGV[2] should the batch never be
-- written); or -max_length when they do not fit, holding nothing.
-- Room is counted as enqueue.lua counts it; expired places are dropped
-- first. Idempotent by token: a resent call (the pipeline of every queue's
-- hold is sent again whole after a NOSCRIPT in any of them) finds its
-- places held and returns them, rather than counting them against its own
-- room and refusing, which would leave them held until they expired.
-- Cost: HGET, EXISTS, TIME, ZREMRANGEBYSCORE, ZSCORE, LLEN, ZCARD and one
-- ZADD of k members, for a batch in a bounded queue.
local max = tonumber(redis.call('HGET', KEYS[1], 'max_length'))
if not max then
  return 'none'
end
local k = (#KEYS - 3) - redis.call('EXISTS', unpack(KEYS, 4))
if k <= 0 then
  return 'none'
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%d', now))
if redis.call('ZSCORE', KEYS[3], ARGV[1] .. ':1') then
  return ARGV[1] .. ':' .. k
end
if redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + k > max then
  return -max
end
local expiry = string.format('%d', now + tonumber(ARGV[2]))
local args = {}
for i = 1, k do
  args[2 * i - 1] = expiry
  args[2 * i] = ARGV[1] .. ':' .. i
end
redis.call('ZADD', KEYS[3], unpack(args))
return ARGV[1] .. ':' .. k
