-- broadcast_start: start a target worker's run of a broadcast task taken
-- from its inbox.
-- KEYS[1] task hash, KEYS[2] its answers hash, KEYS[3] the worker's inbox
-- in the task's queue, KEYS[4] the queue's settings hash
-- ARGV[1] task ID, ARGV[2] worker ID
-- returns {meta, payload} when the worker is to run the task: its answer
-- was pending and is now "running,<now>,0,", and the task is running.
-- Else false: the task is gone or ended (canceled), or the worker's answer
-- is not pending (a resent call, or it was reported missing). Either way
-- the ID leaves the inbox. 'paused' when the queue is paused: nothing is
-- done, and the task waits in the inbox until the queue is resumed.
if redis.call('HGET', KEYS[4], 'paused') == '1' then
  return 'paused'
end
redis.call('LREM', KEYS[3], 1, ARGV[1])
local f = redis.call('HMGET', KEYS[1], 's', 'm', 'p')
if not f[2] or (f[1] ~= 'queued' and f[1] ~= 'running') then
  return false
end
local answer = redis.call('HGET', KEYS[2], ARGV[2])
if not answer or string.sub(answer, 1, 8) ~= 'pending,' then
  return false
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], ARGV[2], 'running,' .. string.format('%d', now) .. ',0,')
if f[1] == 'queued' then
  redis.call('HSET', KEYS[1], 's', 'running')
end
return {f[2], f[3]}
