-- hook_claim: take the due webhook deliveries of one queue for a while.
-- KEYS[1] hooks zset
-- ARGV[1] how many at most, ARGV[2] visibility (ms)
-- returns {fence, id...}: the IDs whose next attempt is due (scored at or
-- before now, on Redis's clock), each now scored now + visibility, the
-- fence: no other call takes them until then, and the attempt's outcome
-- (hook_done.lua) is written only while the score is still the fence. A
-- deliverer that dies mid-attempt leaves the delivery to be taken again
-- once the visibility lapses: delivery is at least once.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local fence = string.format('%d', now + tonumber(ARGV[2]))
if #ids > 0 then
  local args = {}
  for i, id in ipairs(ids) do
    args[2 * i - 1], args[2 * i] = fence, id
  end
  redis.call('ZADD', KEYS[1], 'XX', unpack(args))
end
return {fence, unpack(ids)}
