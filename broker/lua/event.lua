-- event: note a watched task's status in its events stream, for a change
-- that a worker made with a script that does not write the stream (an
-- attempt's start, a retry or a release; see broker.Note).
-- KEYS[1] task hash, KEYS[2] its events stream
-- ARGV[1] event kind, ARGV[2] changes channel
-- returns 1 when noted, 0 when the task is not watched (or gone).
local f = redis.call('HMGET', KEYS[1], 's', 'at', 'm', 'w')
local status = status_of(f[1], f[2], f[3])
if not status or f[4] ~= '1' then
  return 0
end
note(f[4], KEYS[2], ARGV[2], id_of_key(KEYS[1]), ARGV[1], status)
return 1
