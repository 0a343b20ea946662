-- Undo the record of a scheduled message whose job could not be added (schedule-message-1.lua
-- ran, the queue refused): delete it while it is still only `scheduled`.
-- KEYS[1]  the record (hash)
-- Returns  1 when deleted, 0 when the record is gone or has moved on
if redis.call('HGET', KEYS[1], 'state') == 'scheduled' then
  return redis.call('DEL', KEYS[1])
end
return 0
