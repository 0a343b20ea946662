-- A scheduled message's time has come (its job runs): move its record from `scheduled` to
-- `sending` and fix its send time once. A job run again (its process died mid-send, or BullMQ
-- retried it) finds `sending` and gets the same send time, so the repeated send reuses the id and
-- creation time and skips the users already reached.
-- KEYS[1]  the record (hash)
-- Returns  {'sending', createdAt (epoch ms)}  send it now, created at that time
--          {state}                            scheduled no more (`sent`, `recalled`): do nothing
--          {'missing'}                        no record (expired, or never written): do nothing
local rec = redis.call('HMGET', KEYS[1], 'state', 'sendAt')
local state = rec[1]
if not state then
  return { 'missing' }
end
if state == 'scheduled' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  -- Never before sendAt, even when Redis's clock is behind the one that timed the job.
  local sendAt = tonumber(rec[2]) or 0
  if sendAt > now then
    now = sendAt
  end
  redis.call('HSETNX', KEYS[1], 'createdAt', now)
  redis.call('HSET', KEYS[1], 'state', 'sending')
  state = 'sending'
end
if state == 'sending' then
  return { 'sending', redis.call('HGET', KEYS[1], 'createdAt') }
end
return { state }
