-- broadcast_drop: clear away a broadcast task that ended otherwise than by
-- its answers (canceled while queued) or is gone.
-- KEYS[1] task hash, KEYS[2] its answers hash, KEYS[3] the queue's open
-- broadcasts zset, KEYS[3+i] the inbox of target i in the queue, for
-- i = 1..n
-- ARGV[1] task ID
-- returns 1 when the task was cleared away, 0 when it is still queued or
-- running (nothing is done).
-- The ID leaves every target's inbox (those of dead targets too, which
-- would otherwise keep it for good) and the open zset, and the answers
-- hash gets the task hash's expiry: deleted with a task that is gone, kept
-- with one kept for good (then purge.lua deletes both).
local s = redis.call('HGET', KEYS[1], 's')
if s == 'queued' or s == 'running' then
  return 0
end
for i = 4, #KEYS do
  redis.call('LREM', KEYS[i], 0, ARGV[1])
end
redis.call('ZREM', KEYS[3], ARGV[1])
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  redis.call('PEXPIRE', KEYS[2], pttl)
elseif pttl == -2 then
  redis.call('DEL', KEYS[2])
else
  redis.call('PERSIST', KEYS[2])
end
return 1
