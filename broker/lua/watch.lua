-- watch: start following a task's events, and read it.
-- KEYS[1] task hash, KEYS[2] its events stream
-- ARGV[1] events channel, ARGV[2] task ID (layout.IDText)
-- returns false when there is no such task; else {the hash's fields and
-- values, flat; the ID of the stream's last entry, or ''}.
-- A task not yet terminal is marked watched ("w"): from then on, the
-- scripts that change it append events to its stream (note.lua), and a
-- worker running it is told by "watch <queue> <id>" on the events
-- channel, so that it notes outcomes that do not end the task. Its stored
-- payload gets the byte 2 in front (broker's watchMark, before any other
-- mark), which tells a worker starting it to note the start: the start
-- reads the payload anyway, so unwatched tasks pay nothing for the flag.
-- The reply shows the hash as it was read, before the mark.
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then
  return false
end
local s, at, m, w, p
for i = 1, #h, 2 do
  local k = h[i]
  if k == 's' then
    s = h[i + 1]
  elseif k == 'at' then
    at = h[i + 1]
  elseif k == 'm' then
    m = h[i + 1]
  elseif k == 'w' then
    w = h[i + 1]
  elseif k == 'p' then
    p = h[i + 1]
  end
end
local status = status_of(s, at, m)
if not status then
  return false
end
if w ~= '1' and status ~= 'succeeded' and status ~= 'failed' and status ~= 'canceled' then
  if p and string.byte(p, 1) ~= 2 then
    redis.call('HSET', KEYS[1], 'w', '1', 'p', '\2' .. p)
  else
    redis.call('HSET', KEYS[1], 'w', '1')
  end
  local queue = string.match(m, '^[^,]*,[^,]*,[^,]*,([^,]*),')
  if status == 'running' and queue then
    redis.call('PUBLISH', ARGV[1], 'watch ' .. queue .. ' ' .. ARGV[2])
  end
end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = ''
if #last > 0 then
  id = last[1][1]
end
return {h, id}
