-- note: prepended to the scripts that change what an event stream of a
-- task shows (see layout.Keys.TaskEvents). note(watched, stream, channel,
-- id, kind, status, pg) does nothing unless watched is '1' (the task
-- hash's "w", read in the HMGET the script does anyway: an unwatched task
-- costs no command); else it appends {k=kind, s=status[, pg=pg]} to the
-- task's stream (capped near 1,000 entries, kept a day after its last),
-- and publishes the task's ID on channel.
local function note(watched, stream, channel, id, kind, status, pg)
  if watched ~= '1' then
    return
  end
  if pg then
    redis.call('XADD', stream, 'MAXLEN', '~', '1000', '*', 'k', kind, 's', status, 'pg', pg)
  else
    redis.call('XADD', stream, 'MAXLEN', '~', '1000', '*', 'k', kind, 's', status)
  end
  redis.call('PEXPIRE', stream, 86400000)
  redis.call('PUBLISH', channel, id)
end
