-- schedule_declare: record schedules of one queue as declared now, and
-- read their last runs.
-- KEYS[1] the queue's schedules hash
-- ARGV: 2 per schedule: ID, the schedule as declared (JSON)
-- returns {now_ms, then per schedule its last run "tick_ms,task_id", or
-- false when none was recorded}
-- Cost: one HSET of two fields and one HGET per schedule.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)
local out = {now}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  redis.call('HSET', KEYS[1], 'd:' .. id, ARGV[i + 1], 's:' .. id, nows)
  out[#out + 1] = redis.call('HGET', KEYS[1], 'r:' .. id)
end
return out
