-- The event counter of a spill stream (spill-exposures-2.lua, ack-spill-2.lua): how many events
-- the stream's entries hold (an entry holds one, or `n` one per line). A stream whose entries
-- always hold one event (ingest's outbox) names itself as its counter: its length is its count,
-- and nothing more is read or written.
-- spill_held(stream, counter): the events held. Without a counter (a spill written before there
-- was one: an event an entry) the stream's length; an empty stream holds none, whatever the
-- counter says (the stream was deleted, or emptied by hand).
-- spill_set(stream, counter, n): store it (never below 0; no key for 0).
-- entry_count(fields): the events of an entry, from its fields as XRANGE returns them.
local function spill_held(stream, counter)
  local len = redis.call('XLEN', stream)
  if len == 0 or counter == stream then return len end
  local held = redis.call('GET', counter)
  if not held then return len end
  return tonumber(held)
end
local function spill_set(stream, counter, n)
  if counter == stream then
    return
  elseif n > 0 then
    redis.call('SET', counter, n)
  else
    redis.call('DEL', counter)
  end
end
local function entry_count(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'n' then return tonumber(fields[i + 1]) end
  end
  return 1
end
