-- hook_done: record the outcome of one attempt to deliver a webhook.
-- KEYS[1] hooks zset, KEYS[2] the task hash
-- ARGV[1] task ID, ARGV[2] the fence hook_claim.lua set, ARGV[3] the
-- delivery state (JSON, results.WebhookDelivery; "" writes none), ARGV[4]
-- the delay before the next attempt (ms), or "" when there is none (the
-- delivery ended: delivered, given up, or dropped)
-- A rescheduled delivery keeps the task hash at least until 10 minutes
-- after its next attempt (PEXPIRE, never shortening a longer TTL), so a
-- result TTL shorter than the retry window does not end the retries; an
-- ended delivery restores nothing: the hash expires when it then would.
-- returns 1 when written; 0 when the fence is gone (the visibility lapsed
-- and another deliverer took it over, or it ended): nothing is written;
-- -1 when the task's hash is gone (expired or deleted): the delivery
-- leaves the zset.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return -1
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], unpack(respill(KEYS[2], 'wh', ARGV[3])))
end
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[1], 'XX', string.format('%d', now + tonumber(ARGV[4])), ARGV[1])
  local keep = tonumber(ARGV[4]) + 600000
  local pttl = redis.call('PTTL', KEYS[2])
  if pttl >= 0 and pttl < keep then
    redis.call('PEXPIRE', KEYS[2], keep)
  end
end
return 1
