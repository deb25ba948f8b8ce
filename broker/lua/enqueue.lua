-- enqueue: create a task's hash and append its ID to the queue, once.
-- KEYS[1] task hash, KEYS[2] pending list
-- ARGV[1] id, ARGV[2] name, ARGV[3] queue, ARGV[4] payload (JSON),
-- ARGV[5] max_retries, ARGV[6] timeout_ms, ARGV[7] ttl_ms (result TTL)
-- returns created_ms (Redis clock). Idempotent by ID: a resent call finds the
-- hash and returns its created_ms without queueing the ID twice.
local created = redis.call('HGET', KEYS[1], 'created_ms')
if created then
  return tonumber(created)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1],
  'name', ARGV[2], 'queue', ARGV[3], 'status', 'queued', 'payload', ARGV[4],
  'max_retries', ARGV[5], 'timeout_ms', ARGV[6], 'ttl_ms', ARGV[7],
  'created_ms', now)
redis.call('RPUSH', KEYS[2], ARGV[1])
return now
