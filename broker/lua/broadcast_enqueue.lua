-- broadcast_enqueue: create a broadcast task and put its ID in the inbox of
-- each of its target workers, once.
-- KEYS[1] task hash, KEYS[2] its answers hash (layout BroadcastResults),
-- KEYS[3] the queue's open broadcasts zset, KEYS[3+i] the inbox of target
-- i in the queue, for i = 1..n
-- ARGV[1] task ID, ARGV[2] meta ("max_retries,timeout_ms,ttl_ms,queue,
-- name"), ARGV[3] payload (JSON), ARGV[4] events channel, ARGV[5] queue
-- name, ARGV[5+i] the ID of target i
-- returns created_ms (Redis clock). Idempotent by ID: a task whose hash
-- exists (a resent call) keeps its created_ms and is not delivered twice.
-- The status is written (queued), with the number of targets in 'b' and
-- of answers not final yet in 'bo' (see broadcast_answer.lua); each
-- target's answer starts "pending,0,0,". "broadcast <queue>" goes to the
-- events channel so that the targets look in their inboxes at once; a
-- target that misses it looks at its next heartbeat.
-- Cost: four commands plus two per target (HSET of the answer is one for
-- all, RPUSH), only for broadcast tasks: enqueue.lua is untouched.
local created = redis.call('HGET', KEYS[1], 'ct')
if created then
  return created_of(ARGV[1], created)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)
local n = #KEYS - 3
redis.call('HSET', KEYS[1], 'm', ARGV[2], 'p', ARGV[3], 'ct', ct_of(ARGV[1], now), 's', 'queued', 'b', n, 'bo', n)
local answers = {}
for i = 1, n do
  answers[#answers + 1] = ARGV[5 + i]
  answers[#answers + 1] = 'pending,0,0,'
  redis.call('RPUSH', KEYS[3 + i], ARGV[1])
end
redis.call('HSET', KEYS[2], unpack(answers))
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('PUBLISH', ARGV[4], 'broadcast ' .. ARGV[5])
return now
