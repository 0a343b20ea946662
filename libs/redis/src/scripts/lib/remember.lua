-- remember(key, id, now, seconds, cap): note in the sorted set `key` that `id` was written under an
-- idempotency key (score: expiry, epoch ms), drop the expired entries, keep at most `cap` (the
-- oldest go first), and let the set live `seconds`.
local function remember(key, id, now, seconds, cap)
  redis.call('ZADD', key, now + seconds * 1000, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local kept = redis.call('ZCARD', key)
  if kept > cap then
    redis.call('ZREMRANGEBYRANK', key, 0, kept - cap - 1)
  end
  redis.call('EXPIRE', key, seconds)
end
