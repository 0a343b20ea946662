-- Recall a message: its body goes, its record says `recalled` (and stays until the message would
-- have expired, so a repeat answers the same), in one atomic step. A scheduled message is
-- cancelled the same way; one whose send is under way (`sending`) is recalled like a sent one:
-- the send stores nothing from now on (store-message-2.lua refuses a recalled record), and what
-- it may already have appended is cleaned up by the caller.
-- KEYS[1]  the body
-- KEYS[2]  the record (message-record.ts; same hash tag)
-- ARGV[1]  the recall's time, epoch ms
-- Returns  { outcome, recipients, category }: outcome 'recalled' (a sent message, or one being
--          sent), 'cancelled' (a scheduled one), 'again' (recalled before: the caller repeats the
--          clean-up) or 'missing' (unknown or expired)
local state = redis.call('HGET', KEYS[2], 'state')
if not state then
  return { 'missing', '', '' }
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
