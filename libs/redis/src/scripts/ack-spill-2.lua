-- Forget spilled events once Pub/Sub has accepted them: acknowledge them in the replay group and
-- delete them from the stream, in one step, and take their events off the stream's counter. The
-- entries are deleted even when the group is gone (destroyed, or the stream recreated): a group
-- made again from the start of the stream must not publish them a second time.
-- KEYS[1]  the spill stream
-- KEYS[2]  its event counter, or KEYS[1] again (lib/spill-count.lua)
-- ARGV[1]  the consumer group
-- ARGV[2…] pairs: an entry id, how many events it holds (the caller sends a few thousand at most)
-- Returns  how many entries were deleted
--@include spill-count
local ids = {}
for i = 2, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
end
if #ids == 0 then
  return 0
end
local deleted = 0
if KEYS[2] == KEYS[1] then
  -- A stream of one event an entry (ingest's outbox) is its own count: one XDEL takes every entry
  -- (a call per entry cost ~1 µs of Redis an event more, on an idle server).
  deleted = redis.call('XDEL', KEYS[1], unpack(ids))
else
  local held = spill_held(KEYS[1], KEYS[2])
  for i = 2, #ARGV, 2 do
    -- An entry trimmed meanwhile (by age) was counted off then.
    if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
      deleted = deleted + 1
      held = held - tonumber(ARGV[i + 1])
    end
  end
  spill_set(KEYS[1], KEYS[2], held)
end
redis.pcall('XACK', KEYS[1], ARGV[1], unpack(ids))
return deleted
