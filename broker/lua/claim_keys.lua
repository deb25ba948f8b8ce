-- claim_keys: prepended to enqueue.lua for tasks that carry an idempotency
-- key or a unique key (scripts.go's enqueueKeyedScript; status.lua comes
-- first): claims each key for its task, or finds the task holding it, in
-- the same atomic call that writes the tasks, so that no claim is ever
-- seen without its task. Plain tasks use enqueue.lua alone.
-- KEYS[1] the first claim's key (layout's Idempotency or Unique), KEYS[2]
-- the hash of the task believed to hold it (the claiming task's own hash
-- when no holder is known), and so on, two per claim; then enqueue.lua's
-- KEYS
-- ARGV[1] c, then 5 per claim: the claiming task's ID, the hold ('i' an
-- idempotency key; unique: 'f' for a time, 's' until started, 'F' until
-- finished), the digest of the request ('i'; else ''), the claim's expiry
-- (ms), the ID of the task believed to hold the key ('' when none); then
-- enqueue.lua's ARGV
-- returns, when a key is held by another task: {'conflict', then 3 per
-- such claim: its number (1 for the first), what holds it ('check': a
-- task not believed, so call again naming its hash; 'held': the holder,
-- whose hash was read here; 'mismatch': the holder of an idempotency key
-- claimed for a different request), the holder's ID}, and writes nothing.
-- Else sets every claim (with its expiry) and runs enqueue.lua, whose reply
-- it is.
-- A claim binds while its holder's status keeps it (holds below), which is
-- read in the same call, so a key is free again atomically with the state
-- change that ends its hold: a holder gone (expired, purged, or never
-- written because its queue was full) or canceled frees it in every mode;
-- 's' is freed once the holder started, 'F' once it finished. A task that
-- finds its own ID in a claim (a resent call) keeps it.
-- Cost: a GET and a SET per claim, plus an HMGET per claim held by
-- another task; nothing for plain tasks, which never run this.
local function holds(hold, status)
  if not status then
    return false
  elseif hold == 'i' then
    return true
  elseif status == 'canceled' then
    return false
  elseif hold == 'F' then
    return status ~= 'succeeded' and status ~= 'failed'
  elseif hold == 's' then
    return status == 'queued' or status == 'scheduled'
  end
  return true -- 'f': until the claim expires
end

local nclaims = tonumber(ARGV[1])
local conflicts = {'conflict'}
for i = 1, nclaims do
  local a = 1 + (i - 1) * 5
  local id, hold, digest, believed = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 5]
  local cur = redis.call('GET', KEYS[2 * i - 1])
  if cur then
    local holder, held, heldDigest = string.match(cur, '^(%S+) (%S+) ?(.*)$')
    if holder and holder ~= id then
      if holder ~= believed then
        conflicts[#conflicts + 1] = i
        conflicts[#conflicts + 1] = 'check'
        conflicts[#conflicts + 1] = holder
      else
        local f = redis.call('HMGET', KEYS[2 * i], 's', 'at', 'm')
        if holds(held, status_of(f[1], f[2], f[3])) then
          conflicts[#conflicts + 1] = i
          if hold == 'i' and heldDigest ~= digest then
            conflicts[#conflicts + 1] = 'mismatch'
          else
            conflicts[#conflicts + 1] = 'held'
          end
          conflicts[#conflicts + 1] = holder
        end
      end
    end
  end
end
if #conflicts > 1 then
  return conflicts
end
for i = 1, nclaims do
  local a = 1 + (i - 1) * 5
  local v = ARGV[a + 1] .. ' ' .. ARGV[a + 2]
  if ARGV[a + 2] == 'i' then
    v = v .. ' ' .. ARGV[a + 3]
  end
  redis.call('SET', KEYS[2 * i - 1], v, 'PX', ARGV[a + 4])
end
-- enqueue.lua follows, with its own KEYS and ARGV: shift them down.
local nk, na = 2 * nclaims, 1 + 5 * nclaims
local total = #KEYS
for j = 1, total do
  KEYS[j] = KEYS[j + nk]
end
total = #ARGV
for j = 1, total do
  ARGV[j] = ARGV[j + na]
end
