-- log_read: read the IDs of a queue's log by position. A position counts
-- from the first entry the log ever held: the list index plus logbase, the
-- number of entries trimmed from its head, so it stays put while the log
-- grows at its tail and is trimmed at its head.
-- KEYS[1] log list, KEYS[2] logbase
-- ARGV[1] position, or "" for the end of the log; ARGV[2] n; ARGV[3]
-- "back" for the n entries before the position, "on" for the n entries
-- from it on
-- returns {position of the first ID returned, IDs in log order...}.
-- Read-only.
local base = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[2])
local len = redis.call('LLEN', KEYS[1])
local start, stop
if ARGV[3] == 'back' then
  stop = len - 1
  if ARGV[1] ~= '' then
    stop = math.min(tonumber(ARGV[1]) - base - 1, stop)
  end
  start = math.max(stop - n + 1, 0)
else
  start = math.max(tonumber(ARGV[1]) - base, 0)
  stop = start + n - 1
end
if stop < start then
  return {string.format('%d', base + start)}
end
local out = redis.call('LRANGE', KEYS[1], start, stop)
table.insert(out, 1, string.format('%d', base + start))
return out
