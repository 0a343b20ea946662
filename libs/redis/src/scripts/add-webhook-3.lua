-- Register a webhook endpoint unless its producer already has as many as allowed.
-- KEYS[1]  every endpoint id (set)
-- KEYS[2]  the producer's endpoint ids (set)
-- KEYS[3]  the new endpoint (hash)
-- ARGV[1]  most endpoints per producer
-- ARGV[2]  the endpoint id
-- ARGV[3…] the endpoint's fields: name, value, name, value…
-- Returns  1 when registered, 0 when the producer is at its bound (nothing written)
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[3], unpack(ARGV, 3))
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
