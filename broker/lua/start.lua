-- start: mark the tasks of one lease running and return what a worker needs
-- to run them (start_task, in lua/start_task.lua, starts each).
-- KEYS[1] leases zset, KEYS[2] the token's lease set, KEYS[3..n] task hashes
-- ARGV[1] lease token (a task's ID is the end of its key, 32 hex digits)
-- returns three entries per ID, one flat array (a nested one costs a Lua
-- table per task): meta, payload and counts, as start_task returns them;
-- or three false when the lease is not held or its deadline has passed
-- (reaping will hand the tasks back), or when the task may not start (it
-- then leaves the lease, and a lease left empty is dropped). The counts
-- travel as one entry, not three: each entry costs Redis a conversion from
-- Lua and a reply, on every task.
-- Cost: start_task's two commands per task plus two per call (ZSCORE,
-- TIME), and two or three more when some are dropped.
local token = ARGV[1]
local out = {}
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = redis.call('ZSCORE', KEYS[1], token)
if not deadline or tonumber(deadline) <= nowms then
  for i = 1, (#KEYS - 2) * 3 do
    out[i] = false
  end
  return out
end
local prefix = token .. ',' .. string.format('%d', nowms) .. ','
local first = prefix .. '1'
local dropped = {}
for i = 3, #KEYS do
  local o = (i - 3) * 3
  local meta, payload, counts = start_task(KEYS[i], token, prefix, first)
  if meta then
    out[o + 1], out[o + 2], out[o + 3] = meta, payload, counts
  else
    out[o + 1], out[o + 2], out[o + 3] = false, false, false
    dropped[#dropped + 1] = string.sub(KEYS[i], -32)
  end
end
if #dropped > 0 then
  redis.call('SREM', KEYS[2], unpack(dropped))
  if redis.call('SCARD', KEYS[2]) == 0 then
    redis.call('ZREM', KEYS[1], token)
  end
end
return out
