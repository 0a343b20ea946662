-- Replace a user's category set, tell the user's gateways, and open a repair of the member sets:
-- every category whose member set may hold the user (the old ones, the new ones) goes into the
-- index first, so that whatever happens next, a later change knows where to remove the user from.
-- KEYS[1]  the user's category set
-- KEYS[2]  the user's category index (categories whose member sets may hold the user)
-- KEYS[3]  the user's category sync hash: 'v' (version, bumped here) and 't:<token>' -> lease end
-- KEYS[4]  the user's notification channel (sharded pub/sub; all five keys share one slot)
-- KEYS[5]  the user's category positions (hash: category -> log entry id): a category joined
--          starts at the last id of the millisecond before the join's (JOINED_AT below: every
--          entry of the join's millisecond, or later, is the user's; one of an earlier
--          millisecond is not), one left is dropped
-- ARGV[1]  the notification
-- ARGV[2]  lease, ms: how long the repair may run before it no longer holds the index back
-- ARGV[3]  the repair's token
-- ARGV[4…] the new categories
-- Returns  { version, categories, index }: the repair adds the user to each category's member
--          set and removes it from those of the index that are not categories
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
-- A stream's first entry of a millisecond is `<ms>-0`: a position of `<now>-0` would count an
-- entry appended in the join's millisecond, after the join, as read. The largest sequence number
-- puts the position just before that millisecond.
local JOINED_AT = (now - 1) .. '-18446744073709551615'
local old = redis.call('SMEMBERS', KEYS[1])
if #old > 0 then
  redis.call('SADD', KEYS[2], unpack(old))
end
local joined = {}
for i = 4, #ARGV do
  joined[ARGV[i]] = true
end
for _, category in ipairs(old) do
  if joined[category] then
    joined[category] = nil
  else
    redis.call('HDEL', KEYS[5], category)
  end
end
for category in pairs(joined) do
  redis.call('HSET', KEYS[5], category, JOINED_AT)
end
redis.call('DEL', KEYS[1])
if #ARGV > 3 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 4))
  redis.call('SADD', KEYS[2], unpack(ARGV, 4))
end
local version = redis.call('HINCRBY', KEYS[3], 'v', 1)
redis.call('HSET', KEYS[3], 't:' .. ARGV[3], now + lease)
redis.call('PEXPIRE', KEYS[3], lease)
redis.call('SPUBLISH', KEYS[4], ARGV[1])
return { version, redis.call('SMEMBERS', KEYS[1]), redis.call('SMEMBERS', KEYS[2]) }
