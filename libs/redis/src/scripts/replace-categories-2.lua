-- Replace a user's category set and tell the user's gateways.
-- KEYS[1]  the user's category set
-- KEYS[2]  the user's notification channel (sharded pub/sub; same slot as KEYS[1])
-- ARGV[1]  the notification
-- ARGV[2…] the new categories
-- Returns  the previous categories
local old = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
if #ARGV > 1 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 2))
end
redis.call('SPUBLISH', KEYS[2], ARGV[1])
return old
