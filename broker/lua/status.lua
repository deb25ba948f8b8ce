-- status: prepended to every script that reads a task's status (see
-- scripts.go). status_of(s, at, m) takes the task hash's 's', 'at' and 'm'
-- fields and returns its status, as broker's statusOf reads it: the status
-- when written; else queued, or running once an attempt has started (the
-- enqueue and a first start leave it out, one field fewer to write per
-- task); nil when the hash is not a task's (no meta: gone, or never made).
local function status_of(s, at, m)
  if s then
    return s
  elseif not m then
    return nil
  elseif at then
    return 'running'
  end
  return 'queued'
end

-- ttl_of(m) returns the result TTL in ms held in a meta field
-- ("max_retries,timeout_ms,ttl_ms,queue,name"), or nil. An empty TTL is
-- the default, 24 hours (broker's metaResultTTL). The TTL may be written
-- with an exponent ("6e4": broker's appendMillis), which is read here
-- rather than by tonumber: miniredis's Lua does not read it.
local function ttl_of(m)
  local v = m and string.match(m, '^[^,]*,[^,]*,([^,]*)')
  if v == '' then
    return 86400000
  end
  local mant, k = string.match(v or '', '^(%d+)e(%d+)$')
  if mant then
    return tonumber(mant) * 10 ^ tonumber(k)
  end
  return tonumber(v)
end

-- id_of_key(key) returns the ID (layout.IDText) of the task whose hash is
-- key: its last 18 bytes, then the tag between its braces (layout.Keys.Task
-- and IDOfKey spell the same).
local function id_of_key(key)
  return string.sub(key, -18) .. string.sub(key, -23, -21)
end
