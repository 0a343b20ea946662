-- Save one of a user's Web Push subscriptions, unless the user holds ARGV[3] others already. A
-- subscription saved again (same id: same endpoint) replaces its value and counts once.
-- KEYS[1]  the user's subscriptions (hash: id -> JSON)
-- ARGV[1]  the subscription's id
-- ARGV[2]  its value (JSON)
-- ARGV[3]  the most subscriptions a user may hold
-- Returns  1 when saved, 0 when refused (at the bound)
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
