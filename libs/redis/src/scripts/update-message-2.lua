-- Replace a sent message's body with a new version and note it in its record, in one atomic step.
-- KEYS[1]  the body
-- KEYS[2]  the record (message-record.ts; same hash tag)
-- ARGV[1]  the new encoded body
-- ARGV[2]  the new TTL, ms, or '' to keep the current one
-- ARGV[3]  the new expiry, epoch ms
-- ARGV[4]  the update's time, epoch ms
-- Returns  { 'updated', version }, or { state, 0 } when the message is not `sent` ('missing' when
--          there is no record or no body: unknown or expired)
local state = redis.call('HGET', KEYS[2], 'state')
if not state or redis.call('EXISTS', KEYS[1]) == 0 then
  return { 'missing', 0 }
end
if state ~= 'sent' then
  return { state, 0 }
end
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
local version = tonumber(redis.call('HGET', KEYS[2], 'version') or '1') + 1
redis.call('HSET', KEYS[2], 'version', version, 'updatedAt', ARGV[4], 'expiresAt', ARGV[3])
return { 'updated', version }
