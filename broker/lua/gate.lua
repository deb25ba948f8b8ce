-- gate: prepended, after status.lua, to the scripts that start and end
-- attempts (take.lua, start.lua, finish.lua, reap.lua) and to
-- set_limits.lua. gate_lib() returns its functions, made on the first call
-- of a script run that needs them: a run that needs none (a queue without
-- limits or caps) pays for one closure, not one per function. They keep
-- the limits of task names in one queue (see layout.Keys: the limits,
-- running, held and rate keys), and the count of tasks under leases that
-- count against the queue's max_running.
--
-- The settings hash has limits = "1" while the limits hash is not empty
-- (set_limits.lua keeps it), so that take.lua, which reads the settings
-- anyway, tells whether a start must read the limits.
-- Caps: a task whose name runs its max_running tasks waits in the held
-- set: not taken, not an attempt, its hash untouched. A started task that
-- took a slot of its name has sl = "1" in its hash, so that the slot is
-- given back (finish, reap) exactly when it was taken, whatever the limits
-- have become meanwhile; each slot given back moves held tasks of the name
-- to the head of the queue, as many as then have a slot.
-- Rates: a generic cell rate algorithm without bursts: a name at N per
-- period starts at most once per period/N. A task over its rate is booked
-- the next free turn (rt in its hash) and waits in the scheduled set until
-- then, its status as it was; when it comes back it starts on its booking,
-- without taking another turn, unless it comes back more than max(period/N,
-- 1s) late (after a pause, say): its booking has then lapsed, and it asks
-- for a turn again, so that a backlog never starts in a burst.

local gate_made = nil
local function gate_lib()
  if gate_made then
    return gate_made
  end
  -- limit_of(spec) reads a limits value, "max_running,rate_count,
  -- rate_period_ms", as {max = cap or 0, every = ms between starts or 0};
  -- nil when there is none or it does not parse.
  local function limit_of(spec)
    local m, c, p = string.match(spec or '', '^(%d+),(%d+),(%d+)$')
    if not m then
      return nil
    end
    local every = 0
    if tonumber(c) > 0 then
      every = tonumber(p) / tonumber(c)
    end
    return {max = tonumber(m), every = every}
  end

  -- name_of(m) returns the task name that ends a meta field
  -- ("max_retries,timeout_ms,ttl_ms,queue,name"), or nil.
  local function name_of(m)
    return m and string.match(m, '^[^,]*,[^,]*,[^,]*,[^,]*,(.*)$')
  end

  -- gate_open(k, now, channel, queue) returns the gate of one call that
  -- starts tasks, or nil when no name of the queue has limits (one HGETALL:
  -- all that a queue without limits pays). k names the keys: limits,
  -- running, held, rate, scheduled. channel and queue make the "due" event
  -- of a booking earlier than every task scheduled.
  local function gate_open(k, now, channel, queue)
    local flat = redis.call('HGETALL', k.limits)
    if #flat == 0 then
      return nil
    end
    local specs = {}
    for i = 1, #flat, 2 do
      specs[flat[i]] = flat[i + 1]
    end
    return {k = k, now = now, channel = channel, queue = queue, specs = specs, limits = {},
      names = {}, counts = {}, changed = {}, tats = {}, held = {}, nheld = 0, later = {}, nlater = 0, slotted = {}}
  end

  -- gate_later puts the task id in the scheduled set at ms.
  local function gate_later(g, id, ms)
    g.nlater = g.nlater + 2
    g.later[g.nlater - 1], g.later[g.nlater] = ms, id
    if not g.soonest or ms < g.soonest then
      g.soonest = ms
    end
  end

  -- gate_check(g, key, meta) decides whether the task of hash key, with
  -- its meta, may start now (true) or waits (nil): held for a slot of its
  -- name, or booked a later turn under its rate (its turn written to its
  -- hash). A task that takes a slot gets sl = "1" in its hash, and is noted
  -- in g.slotted (by key) for the caller's reply. It reads the task's
  -- booked turn only for a name with a rate.
  local function gate_check(g, key, meta)
    -- Tasks of one name and options share their meta: one match (3k
    -- instructions) per meta per call, not per task.
    local name = g.names[meta or '']
    if name == nil then
      name = name_of(meta) or false
      g.names[meta or ''] = name
    end
    if not name then
      return true
    end
    local lim = g.limits[name]
    if lim == nil then
      lim = limit_of(g.specs[name]) or false
      g.limits[name] = lim
    end
    if not lim then
      return true
    end
    local id = id_of_key(key)
    if lim.max > 0 then
      local c = g.counts[name]
      if not c then
        c = tonumber(redis.call('HGET', g.k.running, name)) or 0
        g.counts[name] = c
      end
      if c >= lim.max then
        g.nheld = g.nheld + 2
        g.held[g.nheld - 1], g.held[g.nheld] = 0, name .. ' ' .. id
        return nil
      end
    end
    if lim.every > 0 then
      local now, turn = g.now, redis.call('HGET', key, 'rt')
      local booked = tonumber(turn)
      if booked and booked > now then -- back before its turn: wait for it
        gate_later(g, id, booked)
        return nil
      end
      if not booked or now - booked >= math.max(lim.every, 1000) then
        local tat = g.tats[name] or tonumber(redis.call('HGET', g.k.rate, name)) or 0
        if tat > now then
          local at = math.ceil(tat)
          redis.call('HSET', key, 'rt', string.format('%d', at))
          gate_later(g, id, at)
          g.tats[name] = tat + lim.every
          return nil
        end
        g.tats[name] = now + lim.every
      end
      if turn then
        redis.call('HDEL', key, 'rt')
      end
    end
    if lim.max > 0 then
      g.counts[name] = g.counts[name] + 1
      g.changed[name] = true
      g.slotted[key] = true
      redis.call('HSET', key, 'sl', '1')
    end
    return true
  end

  -- gate_close(g) writes what the checks of one call changed: the counts of
  -- names, their next free turns, the held tasks and the booked ones (with a
  -- "due" event when one is booked earlier than every task scheduled, so
  -- that sleeping workers wake for it).
  local function gate_close(g)
    if not g then
      return
    end
    local kv, n = {}, 0
    for name in pairs(g.changed) do
      n = n + 2
      kv[n - 1], kv[n] = name, g.counts[name]
    end
    if n > 0 then
      redis.call('HSET', g.k.running, unpack(kv, 1, n))
    end
    kv, n = {}, 0
    for name, tat in pairs(g.tats) do
      n = n + 2
      kv[n - 1], kv[n] = name, string.format('%.3f', tat)
    end
    if n > 0 then
      redis.call('HSET', g.k.rate, unpack(kv, 1, n))
    end
    if g.nheld > 0 then
      redis.call('ZADD', g.k.held, unpack(g.held, 1, g.nheld))
    end
    if g.nlater > 0 then
      local first = redis.call('ZRANGE', g.k.scheduled, 0, 0, 'WITHSCORES')
      redis.call('ZADD', g.k.scheduled, unpack(g.later, 1, g.nlater))
      if not first[2] or g.soonest < tonumber(first[2]) then
        redis.call('PUBLISH', g.channel, 'due ' .. g.queue .. ' ' .. string.format('%d', g.soonest))
      end
    end
  end

  -- gate_unhold(k, name, running) moves held tasks of name to the head of
  -- the queue, oldest first, as many as have a slot with running of its
  -- tasks holding one (all, when the name has no cap any more), up to 1,000,
  -- and returns how many. k names the keys: limits, held, pending.
  local function gate_unhold(k, name, running)
    local lim = limit_of(redis.call('HGET', k.limits, name))
    local free = 1000
    if lim and lim.max > 0 then
      free = math.min(lim.max - running, free)
    end
    if free <= 0 then
      return 0
    end
    local held = redis.call('ZRANGEBYLEX', k.held, '[' .. name .. ' ', '(' .. name .. '!', 'LIMIT', 0, free)
    if #held == 0 then
      return 0
    end
    redis.call('ZREM', k.held, unpack(held))
    local ids = {}
    for i = #held, 1, -1 do -- LPUSH puts the last one first
      ids[#held - i + 1] = string.sub(held[i], -21)
    end
    redis.call('LPUSH', k.pending, unpack(ids))
    return #held
  end

  -- gate_release(k, freed) gives back slots of names: freed maps a name to
  -- how many of its slots are given back. k names the keys: limits,
  -- running, held, pending.
  local function gate_release(k, freed)
    for name, n in pairs(freed) do
      local c = (tonumber(redis.call('HGET', k.running, name)) or 0) - n
      if c > 0 then
        redis.call('HSET', k.running, name, c)
      else
        c = 0
        redis.call('HDEL', k.running, name)
      end
      gate_unhold(k, name, c)
    end
  end

  -- queue_release(running, settings, n, channel, queue) takes n tasks out
  -- of the count of those under leases that count against the queue's
  -- max_running, and announces "slot <queue>" on channel when the queue had
  -- run its max_running and now has a slot free.
  local function queue_release(running, settings, n, channel, queue)
    if n <= 0 then
      return
    end
    local before = tonumber(redis.call('HGET', running, '*')) or 0
    local after = math.max(before - n, 0)
    if after > 0 then
      redis.call('HSET', running, '*', after)
    else
      redis.call('HDEL', running, '*')
    end
    local cap = tonumber(redis.call('HGET', settings, 'max_running'))
    if cap and before >= cap and after < cap then
      redis.call('PUBLISH', channel, 'slot ' .. queue)
    end
  end
  gate_made = {limit_of = limit_of, name_of = name_of, open = gate_open, check = gate_check, close = gate_close,
    unhold = gate_unhold, release = gate_release, queue_release = queue_release}
  return gate_made
end
