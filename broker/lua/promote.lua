-- promote: move scheduled tasks whose time has come to the tail of the
-- queue.
-- KEYS[1] scheduled zset, KEYS[2] pending list, KEYS[3..n] task hashes
-- ARGV[1..n-2] the IDs of the task hashes, as due.lua listed them
-- returns the number of tasks moved. Each ID's score is read again, so an
-- ID moved meanwhile by another worker, or canceled, is left alone, and
-- the call is idempotent. A task held back (status scheduled) becomes
-- queued; a retry stays retrying until it starts, and any other status
-- is kept as it is. An ID whose hash is gone just leaves the zset.
-- Cost: ZSCORE and HGET per ID, HSET per task held back, and one ZREM
-- and one RPUSH per call.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone, moved = {}, {}
for i, id in ipairs(ARGV) do
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now then
    gone[#gone + 1] = id
    local key = KEYS[i + 2]
    local status = redis.call('HGET', key, 's')
    if status == 'scheduled' then
      redis.call('HSET', key, 's', 'queued')
    end
    if status or redis.call('EXISTS', key) == 1 then
      moved[#moved + 1] = id
    end
  end
end
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
end
if #moved > 0 then
  redis.call('RPUSH', KEYS[2], unpack(moved))
end
return #moved
