-- spill: prepended to the scripts that write, read or clear a task's payload,
-- result, error, callback URL or webhook state. Redis keeps a hash in its compact encoding (a listpack)
-- only while every value is at most 64 bytes long
-- (hash-max-listpack-value); one longer value converts it for good to a
-- hashtable, which costs a task 200 to 450 bytes more. So a value of 65 to spill_max (317) bytes is stored
-- in parts of at most 64: field holds '\3', the count n of the parts that
-- follow as one byte, and the value's first 61 bytes (63 in all, which
-- leaves watch.lua room for its mark); field .. 1 to field .. n hold the
-- rest, 64 bytes each, the last shorter. A stored value never otherwise
-- begins with '\3': it is JSON, or begins with packMark (0), hookMark (1)
-- or watchMark (2). A value longer than spill_max stays whole: each part
-- costs Redis about 0.8 µs more to write and to start (the listpack is
-- scanned for each field), which at four parts is a quarter of a task's
-- Redis time in a drain and at nine a third of its throughput, while the
-- 200 bytes saved are a shrinking share of a longer value (one of 512
-- bytes or more is compressed by the broker: 1 KiB of JSON records takes
-- 562).
-- spill(field, v) returns the field-value pairs that store v, and
-- parts_of(field) the names of every part field may have.
-- respill(key, field, v) returns them for a value written over an earlier
-- one (an error at each failure, a webhook's state at each attempt), after
-- deleting the parts the earlier one left: the broker reads a value as
-- parted only when all its parts are there (an error text may begin with
-- '\3').
-- joined(key, v) returns the payload whose first field, as stored in the
-- hash key, is v: v itself unless spilled, else the payload as spill was
-- given it (a watch mark stays in front), read with one HMGET of its
-- parts.
local spill_max = 61 + 4 * 64
local function parts_of(field)
  return field .. '1', field .. '2', field .. '3', field .. '4'
end
local function spill(field, v)
  local n = #v
  if n <= 64 or n > spill_max then
    return {field, v}
  end
  local parts = math.ceil((n - 61) / 64)
  local out = {field, '\3' .. string.char(parts) .. string.sub(v, 1, 61)}
  for i = 1, parts do
    out[2 * i + 1] = field .. i
    out[2 * i + 2] = string.sub(v, 62 + (i - 1) * 64, 61 + i * 64)
  end
  return out
end
local function respill(key, field, v)
  if redis.call('HEXISTS', key, field .. '1') == 1 then
    redis.call('HDEL', key, parts_of(field))
  end
  return spill(field, v)
end
local function joined(key, v)
  local at = string.byte(v, 1) == 2 and 2 or 1
  local n = string.byte(v, at + 1)
  if string.byte(v, at) ~= 3 or not n or n == 0 then
    return v
  end
  local names = {}
  for i = 1, n do
    names[i] = 'p' .. i
  end
  local parts = redis.call('HMGET', key, unpack(names))
  for i = 1, #parts do
    parts[i] = parts[i] or '' -- a part gone: the broker finds the value corrupt
  end
  return string.sub(v, 1, at - 1) .. string.sub(v, at + 2) .. table.concat(parts)
end
