-- page: read the entries of a sorted set that follow a cursor, in
-- descending order of score, then of member.
-- KEYS[1] sorted set
-- ARGV[1] the cursor's score, ARGV[2] its member ("" to start at the
-- top), ARGV[3] how many
-- returns up to ARGV[3] entries as ZRANGE WITHSCORES does (member, score,
-- ...). Read-only.
-- While the cursor's member is in the set, its rank places the page
-- exactly, however many members share its score. Once it is gone (its
-- task expired or was retried), the page starts at its score and skips the
-- members of that score not after it, reading on as long as they fill
-- whole chunks.
local n = tonumber(ARGV[3])
if ARGV[2] == '' then
  return redis.call('ZRANGE', KEYS[1], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n, 'WITHSCORES')
end
local rank = redis.call('ZREVRANK', KEYS[1], ARGV[2])
if rank then
  return redis.call('ZRANGE', KEYS[1], rank + 1, rank + n, 'REV', 'WITHSCORES')
end
local score, member = tonumber(ARGV[1]), ARGV[2]
local out, offset = {}, 0
while true do
  local zs = redis.call('ZRANGE', KEYS[1], ARGV[1], '-inf', 'BYSCORE', 'REV', 'LIMIT', offset, n, 'WITHSCORES')
  for i = 1, #zs, 2 do
    local s = tonumber(zs[i + 1])
    if s < score or zs[i] < member then
      out[#out + 1] = zs[i]
      out[#out + 1] = zs[i + 1]
      if #out == 2 * n then
        return out
      end
    end
  end
  if #zs < 2 * n then
    return out
  end
  offset = offset + n
end
