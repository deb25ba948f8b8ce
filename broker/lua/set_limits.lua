-- set_limits: write the limits of task names in one queue (see gate.lua),
-- as a worker does for its handlers when it starts.
-- KEYS[1] limits hash, KEYS[2] running hash, KEYS[3] held zset, KEYS[4]
-- pending list, KEYS[5] rate hash, KEYS[6] settings hash (limits = "1"
-- while KEYS[1] is not empty)
-- ARGV pairs: a task name, its limits "max_running,rate_count,
-- rate_period_ms", or "" for none (the name's entry is deleted)
-- returns the number of held tasks moved back to the queue: a name whose
-- limits changed gets back as many of its held tasks as now have a slot
-- (all of them, up to 1,000, when it has no cap any more). A name that
-- loses its rate forgets its next free turn.
local G = gate_lib()
local moved = 0
local k = {limits = KEYS[1], held = KEYS[3], pending = KEYS[4]}
for i = 1, #ARGV, 2 do
  local name, spec = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], name)
  if old ~= (spec ~= '' and spec or false) then
    if spec == '' then
      redis.call('HDEL', KEYS[1], name)
    else
      redis.call('HSET', KEYS[1], name, spec)
    end
    local now = G.limit_of(spec)
    if not now or now.every == 0 then
      redis.call('HDEL', KEYS[5], name)
    end
    moved = moved + G.unhold(k, name, tonumber(redis.call('HGET', KEYS[2], name)) or 0)
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[6], 'limits', '1')
else
  redis.call('HDEL', KEYS[6], 'limits')
end
return moved
