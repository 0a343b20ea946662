-- Record the answer of a request that held an idempotency key (a no-op if the record expired).
-- KEYS[1]  the key's record
-- ARGV[1]  the answer, as the request's response body
-- Returns  1 when recorded, 0 when the record was gone
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[1])
return 1
