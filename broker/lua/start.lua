-- start: mark leased tasks running and return what a worker needs to run them.
-- KEYS[1] leases zset, KEYS[2] owners hash, KEYS[3] receipt of the take,
-- KEYS[4..n] task hashes
-- ARGV[1] lease token, ARGV[2..n] task IDs, in the order of KEYS[4..n]
-- returns one entry per ID: false when the lease is not held by the token, or
-- the task is gone, canceled or finished (its lease is then dropped); else
-- {name, payload, attempts, retries, timeout (ms), failures, crashes, ttl (ms)}.
-- Idempotent: a task already started under this token is returned unchanged.
-- Cost: two commands per task (HMGET, HSET) plus three per call (TIME, DEL,
-- HMGET of the owners), and two more when some are dropped.
local token = ARGV[1]
local t = redis.call('TIME')
local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('DEL', KEYS[3])
local owners = redis.call('HMGET', KEYS[2], unpack(ARGV, 2))
local out, dropped = {}, {}
for i = 2, #ARGV do
  local id, key = ARGV[i], KEYS[i + 2]
  local entry = false
  if owners[i - 1] == token then
    local f = redis.call('HMGET', key, 's', 'tk', 'n', 'p', 'a',
      'mr', 'to', 'f', 'c', 'tl')
    local status = f[1]
    if f[2] ~= token and (status == 'queued' or status == 'retrying') then
      f[5] = tostring((tonumber(f[5]) or 0) + 1)
      redis.call('HSET', key, 's', 'running', 'st', now, 'tk', token, 'a', f[5])
      status = 'running'
    end
    if status == 'running' then
      entry = {f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]}
    else
      dropped[#dropped + 1] = id
    end
  end
  out[i - 1] = entry
end
if #dropped > 0 then
  redis.call('ZREM', KEYS[1], unpack(dropped))
  redis.call('HDEL', KEYS[2], unpack(dropped))
end
return out
