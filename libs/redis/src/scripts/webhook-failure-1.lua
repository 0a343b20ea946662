-- Record an endpoint's last failed request, unless the endpoint was deleted meanwhile (a status
-- write must not bring back a deleted endpoint's hash).
-- KEYS[1]  the endpoint (hash)
-- ARGV[1]  when (epoch ms)
-- ARGV[2]  what failed (a short sentence)
-- Returns  1 when recorded, 0 when the endpoint is gone
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'lastFailureAt', ARGV[1], 'lastFailure', ARGV[2])
return 1
