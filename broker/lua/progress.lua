-- progress: record the progress a running attempt reports.
-- KEYS[1] task hash, KEYS[2] its events stream, KEYS[3] the lease set of
-- the attempt's token
-- ARGV[1] lease token, ARGV[2] value (a JSON number, 0 to 1), ARGV[3]
-- message (JSON; "" for none), ARGV[4] changes channel
-- returns 1 when written, 0 when the attempt no longer runs under the
-- token (it finished, or its lease passed on) or its ID is no longer in
-- the lease set: fenced as finish.lua fences an outcome (lease
-- membership, then the token), a late attempt writes nothing.
-- Writes "pg": {"value":..,"message":..,"at":ms}, ms on Redis's clock;
-- and, for a watched task, a progress event.
local f = redis.call('HMGET', KEYS[1], 's', 'at', 'm', 'w')
local at = f[2]
if status_of(f[1], at, f[3]) ~= 'running' or not at or string.sub(at, 1, #ARGV[1] + 1) ~= ARGV[1] .. ',' then
  return 0
end
local id = id_of_key(KEYS[1])
if redis.call('SISMEMBER', KEYS[3], id) ~= 1 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local message = ARGV[3]
if message == '' then
  message = 'null'
end
local pg = '{"value":' .. ARGV[2] .. ',"message":' .. message .. ',"at":' .. string.format('%d', now) .. '}'
redis.call('HSET', KEYS[1], 'pg', pg)
note(f[4], KEYS[2], ARGV[4], id, 'progress', 'running', pg)
return 1
