-- purge_held: delete queued tasks held for a slot of their name's cap (see
-- gate.lua).
-- KEYS[1] held zset, KEYS[2..n] task hashes
-- ARGV[1..n-1] members of the held set ("<name> <id>") as read before the
-- call, in the order of KEYS[2..n]
-- returns the number of tasks deleted. A member no longer held (given a
-- slot meanwhile) is left alone; one whose task is not waiting (canceled
-- since, or gone) just leaves the set.
local deleted = 0
for i = 2, #KEYS do
  if redis.call('ZREM', KEYS[1], ARGV[i - 1]) == 1 then
    local f = redis.call('HMGET', KEYS[i], 's', 'at', 'm')
    local status = status_of(f[1], f[2], f[3])
    if status == 'queued' or status == 'retrying' then
      redis.call('DEL', KEYS[i])
      deleted = deleted + 1
    end
  end
end
return deleted
