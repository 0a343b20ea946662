-- Recall a message: its body goes, its record says `recalled` (and stays until the message would
-- have expired, so a repeat answers the same), in one atomic step. A scheduled message is
-- cancelled the same way; one being sent right now is left alone.
-- KEYS[1]  the body
-- KEYS[2]  the record (message-record.ts; same hash tag)
-- ARGV[1]  the recall's time, epoch ms
-- Returns  { outcome, recipients, category }: outcome 'recalled' (a sent message), 'cancelled' (a
--          scheduled one), 'again' (recalled before: the caller repeats the clean-up), 'sending'
--          (a scheduled message firing now) or 'missing' (unknown or expired)
local state = redis.call('HGET', KEYS[2], 'state')
if not state then
  return { 'missing', '', '' }
end
if state == 'sending' then
  return { 'sending', '', '' }
end
local to = redis.call('HGET', KEYS[2], 'to') or ''
local category = redis.call('HGET', KEYS[2], 'category') or ''
if state == 'recalled' then
  return { 'again', to, category }
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'state', 'recalled', 'recalledAt', ARGV[1])
if state == 'scheduled' then
  return { 'cancelled', '', '' }
end
return { 'recalled', to, category }
