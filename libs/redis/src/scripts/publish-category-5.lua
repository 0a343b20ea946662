-- Append a category message to the category's log, trim the log to its cap and to the longest
-- message TTL, take the place of the category's last message with the same replace key, and tell
-- every gateway with a member of the category, in one atomic step (all four keys share the
-- category's slot). The note carries the new entry's id: gateways order and
-- deduplicate by it.
-- KEYS[1]  the category's log (stream; entries: i = message id, e = expiry, epoch ms)
-- KEYS[2]  the category's channel (sharded pub/sub)
-- KEYS[3]  the category's idempotent appends (sorted set: message id -> expiry, epoch ms)
-- KEYS[4]  the category's replace keys (hash: replace key -> `<entry id>|<message id>`)
-- KEYS[5]  the category's trimmed entries (sorted set: `<entry id>|<message id>|<d or e>` scored by
--          the entry's ms): what the cap (d: dropped) or the lifetime (e: expired) took out of the
--          log, so a member's next drain can tell the entries it lost unread (gateway
--          drain-sources.ts); at most `cap` kept, expiring with the log
-- ARGV[1]  message id
-- ARGV[2]  the message's expiry, epoch ms
-- ARGV[3]  the inner note: the body (`m…`) or a reference (`r<id>`)
-- ARGV[4]  cap: most entries kept (also the most idempotent appends remembered)
-- ARGV[5]  the log's lifetime, seconds (the longest message TTL): older entries go, an idle log expires
-- ARGV[6]  '1' to skip an id appended before under an idempotency key (a retry)
-- ARGV[7]  seconds to remember this append in KEYS[3] (the idempotency TTL), '0' for none
-- ARGV[8]  the message's replace key, '' for none: the entry KEYS[4] holds for it (another message)
--          is deleted from the log (a member reading the log never sees it), and the note becomes
--          `k<entry>|x<that message id>|<inner note>`
-- Returns  { entry id, entries dropped, entries replaced (0 or 1) }, or { '', 0, 0 } when skipped
--@include remember
--@include replace-key
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[6] == '1' and redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  return { '', 0, 0 }
end
local cap = tonumber(ARGV[4])
local lifetime = tonumber(ARGV[5])
-- An entry past its message's expiry is recorded as expired whatever trimmed it.
local recorded = 0
local function record(entries, reason)
  for _, e in ipairs(entries) do
    recorded = recorded + 1
    local message = ''
    local why = reason
    for i = 1, #e[2], 2 do
      if e[2][i] == 'i' then message = e[2][i + 1] end
      if e[2][i] == 'e' and tonumber(e[2][i + 1]) <= now then why = 'e' end
    end
    local ms = tonumber(string.match(e[1], '^(%d+)'))
    redis.call('ZADD', KEYS[5], ms, e[1] .. '|' .. message .. '|' .. why)
  end
end
local before = redis.call('XLEN', KEYS[1])
-- What the cap takes (one entry per append once full) and what the lifetime takes (at most `cap`
-- per append: an idle log's backlog), recorded before they go.
if before + 1 > cap then
  record(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', before + 1 - cap), 'd')
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', cap, '*', 'i', ARGV[1], 'e', ARGV[2])
local dropped = before + 1 - redis.call('XLEN', KEYS[1])
local cutoff = (now - lifetime * 1000) .. '-0'
record(redis.call('XRANGE', KEYS[1], '-', '(' .. cutoff, 'COUNT', cap), 'e')
dropped = dropped + redis.call('XTRIM', KEYS[1], 'MINID', cutoff)
if recorded > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(cap + 1))
  redis.call('EXPIRE', KEYS[5], lifetime)
end
redis.call('EXPIRE', KEYS[1], lifetime)
local seconds = tonumber(ARGV[7])
if seconds > 0 then
  remember(KEYS[3], ARGV[1], now, seconds, cap)
end
local note = ARGV[3]
local replaced = 0
if ARGV[8] ~= '' then
  local old = replace_key(KEYS[4], ARGV[8], id .. '|' .. ARGV[1], cap, lifetime)
  if old then
    local bar = string.find(old, '|', 1, true)
    local oldId = string.sub(old, bar + 1)
    if oldId ~= ARGV[1] then
      replaced = redis.call('XDEL', KEYS[1], string.sub(old, 1, bar - 1))
      note = 'x' .. oldId .. '|' .. note
    end
  end
end
redis.call('SPUBLISH', KEYS[2], 'k' .. id .. '|' .. note)
return { id, dropped, replaced }
