-- A batch that failed for the whole retry period (or was queued for a disabled endpoint): keep it
-- in the endpoint's dead letters and disable the endpoint, once; nothing when it was deleted.
-- KEYS[1]  the endpoint (hash)
-- KEYS[2]  its dead-lettered batches (list, newest first)
-- ARGV[1]  how many dead letters to keep (0: none)
-- ARGV[2]  the dead letter (JSON)
-- ARGV[3]  when (epoch ms)
-- ARGV[4]  why (a short sentence)
-- Returns  1 when dead-lettered, 0 when the endpoint is gone
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if redis.call('HGET', KEYS[1], 'state') ~= 'disabled' then
  redis.call('HSET', KEYS[1], 'state', 'disabled', 'disabledAt', ARGV[3], 'disabledReason', ARGV[4])
end
redis.call('HINCRBY', KEYS[1], 'deadLetters', 1)
local keep = tonumber(ARGV[1])
if keep > 0 then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], 0, keep - 1)
end
return 1
