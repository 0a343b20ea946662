-- Append a category message to the category's log, trim the log to its cap and to the longest
-- message TTL, and tell every gateway with a member of the category, in one atomic step (all three
-- keys share the category's slot). The note carries the new entry's id: gateways order and
-- deduplicate by it.
-- KEYS[1]  the category's log (stream; entries: i = message id, e = expiry, epoch ms)
-- KEYS[2]  the category's channel (sharded pub/sub)
-- KEYS[3]  the category's idempotent appends (sorted set: message id -> expiry, epoch ms)
-- ARGV[1]  message id
-- ARGV[2]  the message's expiry, epoch ms
-- ARGV[3]  the inner note: the body (`m…`) or a reference (`r<id>`)
-- ARGV[4]  cap: most entries kept (also the most idempotent appends remembered)
-- ARGV[5]  the log's lifetime, seconds (the longest message TTL): older entries go, an idle log expires
-- ARGV[6]  '1' to skip an id appended before under an idempotency key (a retry)
-- ARGV[7]  seconds to remember this append in KEYS[3] (the idempotency TTL), '0' for none
-- Returns  { entry id, entries dropped }, or { '', 0 } when skipped
--@include remember
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[6] == '1' and redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  return { '', 0 }
end
local cap = tonumber(ARGV[4])
local lifetime = tonumber(ARGV[5])
local before = redis.call('XLEN', KEYS[1])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', cap, '*', 'i', ARGV[1], 'e', ARGV[2])
local dropped = before + 1 - redis.call('XLEN', KEYS[1])
dropped = dropped + redis.call('XTRIM', KEYS[1], 'MINID', (now - lifetime * 1000) .. '-0')
redis.call('EXPIRE', KEYS[1], lifetime)
local seconds = tonumber(ARGV[7])
if seconds > 0 then
  remember(KEYS[3], ARGV[1], now, seconds, cap)
end
redis.call('SPUBLISH', KEYS[2], 'k' .. id .. '|' .. ARGV[3])
return { id, dropped }
