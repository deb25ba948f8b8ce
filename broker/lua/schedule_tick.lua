-- schedule_tick: create the task of one tick of a schedule, once however
-- many processes ask for that tick.
-- KEYS[1] the queue's schedules hash, KEYS[2] pending list, KEYS[3] the
-- queue's log, KEYS[4] the new task's hash
-- ARGV[1] schedule ID, ARGV[2] tick_ms, ARGV[3] task ID (IDText), ARGV[4]
-- meta ("max_retries,timeout_ms,ttl_ms,queue,name"), ARGV[5] payload
-- (JSON, packed), ARGV[6] early_ms: how far ahead of Redis's clock a tick
-- may be asked for
-- returns {state, prev_tick_ms, prev_task_id, now_ms}: state 1 when this
-- call created the task (also when a call resent after a lost reply had),
-- 0 when that tick or a later one was already recorded, -1 when tick_ms is
-- more than early_ms ahead of Redis's clock (nothing is created); the
-- previous run is the one recorded before the call (-1 and '' for none).
-- The tick is compared with the last one recorded and only a later tick
-- creates a task: a process whose clock is behind asks for a tick that
-- another already recorded, and creates nothing.
-- The task is created as enqueue.lua creates a task (fields m, p, ct; its
-- ID appended to pending and to the log), so that it is a submitted
-- task in every respect.
-- Cost: HSET and HGET of the schedule, plus, when it creates the task,
-- HSET of three fields, two RPUSH and HSET.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)
local id, tick = ARGV[1], tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 's:' .. id, nows)
local prev = redis.call('HGET', KEYS[1], 'r:' .. id)
local pt, ptask = -1, ''
if prev then
  local comma = string.find(prev, ',', 1, true)
  pt, ptask = tonumber(string.sub(prev, 1, comma - 1)), string.sub(prev, comma + 1)
end
if tick <= pt then
  if tick == pt and ptask == ARGV[3] then
    return {1, pt, ptask, now} -- resent: the first call created it
  end
  return {0, pt, ptask, now}
end
if tick > now + tonumber(ARGV[6]) then
  return {-1, pt, ptask, now}
end
redis.call('HSET', KEYS[4], 'm', ARGV[4], 'ct', ct_of(ARGV[3], now), unpack(spill('p', ARGV[5])))
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[1], 'r:' .. id, ARGV[2] .. ',' .. ARGV[3])
return {1, pt, ptask, now}
