-- Claim an idempotency key for one request, or learn what became of an earlier one.
-- KEYS[1]  the key's record (a hash: id, fp, at, state, lease, result)
-- ARGV[1]  message id to use if the key is new
-- ARGV[2]  fingerprint of the request body
-- ARGV[3]  now, epoch ms
-- ARGV[4]  lease, ms: how long the claimer may take before another request may take over
-- ARGV[5]  the record's lifetime, seconds
-- Returns  {'claimed', id, at}   run the request with this id and creation time
--          {'done', id, result}  answered before: answer the same
--          {'busy', id}          another request holds the lease: wait and ask again
--          {'mismatch', id}      the key was used with another body
local rec = redis.call('HMGET', KEYS[1], 'id', 'fp', 'at', 'state', 'lease', 'result')
local now = tonumber(ARGV[3])
if not rec[1] then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'fp', ARGV[2], 'at', ARGV[3], 'state', 'pending', 'lease', now + tonumber(ARGV[4]))
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return { 'claimed', ARGV[1], ARGV[3] }
end
if rec[2] ~= ARGV[2] then
  return { 'mismatch', rec[1] }
end
if rec[4] == 'done' then
  return { 'done', rec[1], rec[6] }
end
if tonumber(rec[5]) <= now then
  redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[4]))
  return { 'claimed', rec[1], rec[3] }
end
return { 'busy', rec[1] }
