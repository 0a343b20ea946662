-- Remove one of a producer's webhook endpoints, its status and its dead letters.
-- KEYS[1]  every endpoint id (set)
-- KEYS[2]  the producer's endpoint ids (set)
-- KEYS[3]  the endpoint (hash)
-- KEYS[4]  its dead-lettered batches (list)
-- ARGV[1]  the endpoint id
-- Returns  1 when removed, 0 when the producer has no endpoint by that id (nothing written)
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
return 1
