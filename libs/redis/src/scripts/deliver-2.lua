-- Append a message id to a user's inbox, keep the inbox at most ARGV[2] long (dropping the
-- oldest), and tell the user's gateways, all in one atomic step.
-- KEYS[1]  the user's inbox list
-- KEYS[2]  the user's notification channel (sharded pub/sub; same hash tag, so same slot)
-- ARGV[1]  message id
-- ARGV[2]  inbox cap
-- ARGV[3]  the notification
-- ARGV[4]  '1' to skip an id the inbox already holds (retries and category fan-out), else '0'
-- Returns  the number of ids dropped from the head to honour the cap, or -1 when skipped
if ARGV[4] == '1' and redis.call('LPOS', KEYS[1], ARGV[1], 'RANK', -1) then
  return -1
end
local len = redis.call('RPUSH', KEYS[1], ARGV[1])
local cap = tonumber(ARGV[2])
local dropped = 0
if len > cap then
  dropped = len - cap
  redis.call('LTRIM', KEYS[1], dropped, -1)
end
redis.call('SPUBLISH', KEYS[2], ARGV[3])
return dropped
