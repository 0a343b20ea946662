-- Replace a user's category set and tell the user's gateways.
-- KEYS[1]  the user's category set
-- ARGV[1]  the user's notification channel
-- ARGV[2]  the notification
-- ARGV[3…] the new categories
-- Returns  the previous categories
local old = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
if #ARGV > 2 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 3))
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return old
