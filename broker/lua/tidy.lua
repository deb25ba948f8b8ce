-- tidy: drop IDs from the head of a queue's log whose tasks the caller
-- found gone (expired or purged: a gone task never comes back, its ID
-- being unique).
-- KEYS[1] log list, KEYS[2] logbase
-- ARGV[1] how many to drop, ARGV[2] the first of them
-- returns the number dropped: 0 when the head is no longer ARGV[2] (another
-- worker tidied first). The base grows by as many, so that positions
-- (log_read.lua) stay put.
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[2] then
  return 0
end
local n = tonumber(ARGV[1])
redis.call('LTRIM', KEYS[1], n, -1)
redis.call('INCRBY', KEYS[2], n)
return n
