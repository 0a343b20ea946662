-- Append a message id to a user's inbox, keep the inbox at most ARGV[2] long (dropping the
-- oldest) and alive ARGV[5] seconds from now, remember the delivery when it ran under an
-- idempotency key, take the place of the user's last message with the same replace key, and tell
-- the user's gateways, all in one atomic step.
-- KEYS[1]  the user's inbox list
-- KEYS[2]  the user's notification channel (sharded pub/sub; same hash tag, so same slot)
-- KEYS[3]  the user's idempotent deliveries (sorted set: message id -> expiry, epoch ms)
-- KEYS[4]  the user's replace keys (hash: replace key -> id of the last message with it)
-- ARGV[1]  message id
-- ARGV[2]  inbox cap (also the most idempotent deliveries and replace keys remembered)
-- ARGV[3]  the notification
-- ARGV[4]  '1' to skip an id the inbox holds or KEYS[3] remembers (retries, category fan-out)
-- ARGV[5]  the inbox's lifetime, seconds (the longest message TTL): refreshed on every write
-- ARGV[6]  seconds to remember this delivery in KEYS[3] (the idempotency TTL), '0' for none
-- ARGV[7]  the message's replace key, '' for none: the id KEYS[4] holds for it (another message)
--          leaves the inbox, and the note becomes `x<that id>|<note>` (pending or not: a client
--          may still show it)
-- Returns  { ids dropped from the head to honour the cap, or -1 when skipped; ids replaced (0 or 1);
--          the gateways the note reached (SPUBLISH's count: 0 means no gateway holds a session of
--          the user, the offline signal of Web Push; 0 when skipped); then the dropped ids
--          themselves (the funnel's `dropped` events) }
--@include remember
--@include replace-key
if ARGV[4] == '1' then
  if redis.call('ZSCORE', KEYS[3], ARGV[1]) or redis.call('LPOS', KEYS[1], ARGV[1], 'RANK', -1) then
    return { -1, 0, 0 }
  end
end
local cap = tonumber(ARGV[2])
local note = ARGV[3]
local replaced = 0
if ARGV[7] ~= '' then
  local old = replace_key(KEYS[4], ARGV[7], ARGV[1], cap, ARGV[5])
  if old and old ~= ARGV[1] then
    replaced = redis.call('LREM', KEYS[1], 0, old)
    note = 'x' .. old .. '|' .. note
  end
end
local len = redis.call('RPUSH', KEYS[1], ARGV[1])
local dropped = 0
local droppedIds = {}
if len > cap then
  dropped = len - cap
  droppedIds = redis.call('LRANGE', KEYS[1], 0, dropped - 1)
  redis.call('LTRIM', KEYS[1], dropped, -1)
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
local seconds = tonumber(ARGV[6])
if seconds > 0 then
  local t = redis.call('TIME')
  remember(KEYS[3], ARGV[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), seconds, cap)
end
local receivers = redis.call('SPUBLISH', KEYS[2], note)
return { dropped, replaced, receivers, unpack(droppedIds) }
