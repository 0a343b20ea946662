-- Append a message id to a user's inbox, keep the inbox at most ARGV[2] long (dropping the
-- oldest), and tell the user's gateways, all in one atomic step.
-- KEYS[1]  the user's inbox list
-- ARGV[1]  message id
-- ARGV[2]  inbox cap
-- ARGV[3]  the user's notification channel
-- ARGV[4]  the notification
-- Returns  the number of ids dropped from the head to honour the cap
local len = redis.call('RPUSH', KEYS[1], ARGV[1])
local cap = tonumber(ARGV[2])
local dropped = 0
if len > cap then
  dropped = len - cap
  redis.call('LTRIM', KEYS[1], dropped, -1)
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return dropped
