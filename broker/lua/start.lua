-- start: mark the tasks of one lease running and return what a worker needs
-- to run them (start_task, in lua/start_task.lua, starts each; with the
-- gate keys, the gate of lua/gate.lua checks the limits of their names).
-- KEYS[1] leases zset, KEYS[2] the token's lease set, then either the task
-- hashes (KEYS[3..n]) or, when ARGV[2] holds 'g', KEYS[3] limits hash,
-- KEYS[4] running hash, KEYS[5] held zset, KEYS[6] rate hash, KEYS[7]
-- scheduled zset, KEYS[8] settings hash, and the task hashes (KEYS[9..n])
-- ARGV[1] lease token (a task's ID is the end of its key and its tag: layout.IDText),
-- ARGV[2], absent for a plain start, flags: 'g' the gate keys are there (the take said the queue's
-- names have limits, or its lease counts against max_running), 'l' check
-- the limits of names, 'c' the lease counts against max_running, 'r' the
-- call may be a resend of one already applied (a task no longer in the
-- lease set, dropped by the first call, is dropped again, not checked
-- anew); with 'g', ARGV[3] events channel, ARGV[4] queue name
-- returns three entries per ID, one flat array (a nested one costs a Lua
-- table per task): meta, payload and counts, as start_task returns them;
-- or three false when the lease is not held or its deadline has passed
-- (reaping will hand the tasks back), or when the task may not start (it
-- then leaves the lease, and a lease left empty is dropped); then, after
-- those, the 1-based positions of the tasks that hold a max_running slot
-- of their name (none, usually). The counts travel as one entry, not
-- three: each entry costs Redis a conversion from Lua and a reply, on
-- every task.
-- Cost: start_task's two commands per task plus two per call (ZSCORE,
-- TIME), and two or three more when some are dropped; checking limits, an
-- HGETALL of them and a few commands per name. A plain start runs a loop
-- of its own: each Lua operation in the loop costs every task.
local token, flags = ARGV[1], ARGV[2] or ''
local gated = flags ~= ''
local first_task = 3
if gated then
  first_task = 9
end
local out = {}
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = redis.call('ZSCORE', KEYS[1], token)
if not deadline or tonumber(deadline) <= nowms then
  for i = 1, (#KEYS - first_task + 1) * 3 do
    out[i] = false
  end
  return out
end
local prefix = token .. ',' .. string.format('%d', nowms) .. ','
local first = prefix .. '1'
local dropped = {}
if not gated then
  for i = 3, #KEYS do
    local o = (i - 3) * 3
    local meta, payload, counts = start_task(KEYS[i], token, prefix, first)
    if meta then
      out[o + 1], out[o + 2], out[o + 3] = meta, payload, counts
    else
      out[o + 1], out[o + 2], out[o + 3] = false, false, false
      dropped[#dropped + 1] = id_of_key(KEYS[i])
    end
  end
  if #dropped > 0 then
    redis.call('SREM', KEYS[2], unpack(dropped))
    if redis.call('SCARD', KEYS[2]) == 0 then
      redis.call('ZREM', KEYS[1], token)
    end
  end
  return out
end
local G = gate_lib()
local g, leased, slots = nil, nil, nil
if string.find(flags, 'l', 1, true) then
  g = G.open({limits = KEYS[3], running = KEYS[4], held = KEYS[5], rate = KEYS[6], scheduled = KEYS[7]},
    nowms, ARGV[3], ARGV[4])
  if g and string.find(flags, 'r', 1, true) then -- see resend below
    local ids = {}
    for i = 9, #KEYS do
      ids[i - 8] = id_of_key(KEYS[i])
    end
    leased = redis.call('SMISMEMBER', KEYS[2], unpack(ids))
  end
end
local resend = string.find(flags, 'r', 1, true)
for i = 9, #KEYS do
  local meta, payload, counts
  if not leased or leased[i - 8] == 1 then
    meta, payload, counts = start_task(KEYS[i], token, prefix, first, g)
  end
  local o = (i - 9) * 3
  if meta then
    out[o + 1], out[o + 2], out[o + 3] = meta, payload, counts
    -- A slot taken now, or by the call this one resends.
    if g and (g.slotted[KEYS[i]] or (resend and redis.call('HGET', KEYS[i], 'sl') == '1')) then
      slots = slots or {}
      slots[#slots + 1] = i - 8
    end
  else
    out[o + 1], out[o + 2], out[o + 3] = false, false, false
    dropped[#dropped + 1] = id_of_key(KEYS[i])
  end
end
if g then
  G.close(g)
end
if #dropped > 0 then
  local left = redis.call('SREM', KEYS[2], unpack(dropped)) -- a resend's were left already
  local counted = string.find(flags, 'c', 1, true)
  if redis.call('SCARD', KEYS[2]) == 0 then
    redis.call('ZREM', KEYS[1], token)
    if counted then
      redis.call('HDEL', KEYS[4], '@' .. token)
    end
  end
  if counted then
    G.queue_release(KEYS[4], KEYS[8], left, ARGV[3], ARGV[4])
  end
end
if slots then
  for _, at in ipairs(slots) do
    out[#out + 1] = at
  end
end
return out
