-- broadcast_answer: record a target worker's answer to a broadcast task,
-- and end the task when it was the last.
-- KEYS[1] task hash, KEYS[2] its answers hash, KEYS[3] the queue's open
-- broadcasts zset, KEYS[4] the worker's inbox in the queue
-- ARGV[1] task ID, ARGV[2] worker ID, ARGV[3] the answer's status:
-- succeeded or failed (from the worker, whose answer must be running) or
-- missing (from anyone, in place of a pending or running answer);
-- ARGV[4] text: the result JSON (succeeded) or the error; ARGV[5] done
-- channel
-- returns 1 when the answer was written, 2 when it also ended the task,
-- 0 when not: the answer was already final, or the task is gone or ended
-- otherwise (canceled), in which case the task leaves the open zset and
-- its answers expire with its hash.
-- An answer is "status,started_ms,finished_ms,text". The task hash counts
-- the answers not final yet ('bo', set by broadcast_enqueue.lua) and the
-- failed and missing ones ('bf', 'bm'), so that an answer costs the same
-- however many targets (a task stored without 'bo' is counted once, from
-- all its answers). The task ends when no answer is pending or running
-- ('bo' reaches 0): succeeded when every target succeeded,
-- else failed, its error counting those that failed and those missing;
-- it is then published on the done channel, leaves the open zset, and its
-- hashes expire after the result TTL. A broadcast task is in none of the
-- queue's listings (log, failed zset), so that a bulk retry of failed
-- tasks never runs it as a plain task. The ID leaves the worker's inbox
-- either way.
redis.call('LREM', KEYS[4], 1, ARGV[1])
local f = redis.call('HMGET', KEYS[1], 's', 'm', 'bo', 'b')
if not f[2] or (f[1] ~= 'queued' and f[1] ~= 'running') then
  redis.call('ZREM', KEYS[3], ARGV[1])
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > 0 then
    redis.call('PEXPIRE', KEYS[2], pttl)
  elseif pttl == -2 then
    redis.call('DEL', KEYS[2])
  end
  return 0
end
local old = redis.call('HGET', KEYS[2], ARGV[2])
if not old then
  return 0
end
local state, started = string.match(old, '^(%a+),(%d+),')
if ARGV[3] == 'missing' then
  if state ~= 'pending' and state ~= 'running' then
    return 0
  end
elseif state ~= 'running' then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3] .. ',' .. started .. ',' .. nows .. ',' .. ARGV[4])
local open, failed, missing
if f[3] then
  open = redis.call('HINCRBY', KEYS[1], 'bo', -1)
  if ARGV[3] ~= 'succeeded' then
    redis.call('HINCRBY', KEYS[1], ARGV[3] == 'failed' and 'bf' or 'bm', 1)
  end
else -- stored before the counters: count every answer, once
  open, failed, missing = 0, 0, 0
  for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
    local s = string.match(v, '^(%a+),')
    if s == 'pending' or s == 'running' then
      open = open + 1
    elseif s == 'failed' then
      failed = failed + 1
    elseif s == 'missing' then
      missing = missing + 1
    end
  end
  redis.call('HSET', KEYS[1], 'bo', open, 'bf', failed, 'bm', missing)
end
if open > 0 then
  return 1
end
local c = redis.call('HMGET', KEYS[1], 'bf', 'bm')
failed, missing = tonumber(c[1] or '0'), tonumber(c[2] or '0')
local ttl = ttl_of(f[2])
if ttl and ttl > 0 then
  local expireAt = string.format('%d', now + ttl)
  redis.call('PEXPIREAT', KEYS[1], expireAt)
  redis.call('PEXPIREAT', KEYS[2], expireAt)
end
if failed + missing == 0 then
  redis.call('HSET', KEYS[1], 's', 'succeeded', 'ft', nows)
else
  local e = string.format('%d of %d workers did not succeed: %d failed, %d missing',
    failed + missing, tonumber(f[4]) or failed + missing, failed, missing)
  redis.call('HSET', KEYS[1], 's', 'failed', 'e', e, 'ft', nows)
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[1])
return 2
