-- Append events to a spill stream (the gateways' exposure spill, ingest's event outbox), within
-- its bounds: entries older than the age bound are trimmed first, and entries past the size bound
-- are refused (the oldest are kept: the replay publishes in order, and entries being replayed are
-- never cut from under it). An entry holds one event, or several one per line (field `n`: how
-- many; absent: one): the gateway spills packed exposures as the log packed them, so a broadcast's
-- overflow is a few hundred entries, not tens of thousands. The bound counts events, kept in a
-- counter beside the stream. Ages are judged by the Redis server's clock, which also stamps the
-- entry ids.
-- KEYS[1]  the spill stream
-- KEYS[2]  its event counter (events its entries hold; the same slot), or KEYS[1] again for a
--          stream of one event an entry (lib/spill-count.lua)
-- ARGV[1]  the stream's event field
-- ARGV[2]  the most events the stream may hold
-- ARGV[3]  the oldest entry kept, ms of age (0: no age bound)
-- ARGV[4…] pairs, oldest first: how many events, the entry (the caller sends a few thousand events at most)
-- Returns  { events appended, events refused (the stream was full), events trimmed by age }
--@include spill-count
local held = spill_held(KEYS[1], KEYS[2])
local expired = 0
local maxAge = tonumber(ARGV[3])
if maxAge > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  -- At most 1000 entries a call (the rest at the next one): an outage's backlog is not trimmed
  -- in one long script.
  local old = redis.call('XRANGE', KEYS[1], '-', '(' .. tostring(now - maxAge) .. '-0', 'COUNT', 1000)
  for _, entry in ipairs(old) do
    expired = expired + entry_count(entry[2])
    redis.call('XDEL', KEYS[1], entry[1])
  end
end
local room = tonumber(ARGV[2]) - (held - expired)
local taken = 0
local refused = 0
for i = 4, #ARGV, 2 do
  local n = tonumber(ARGV[i])
  if refused == 0 and n <= room then
    if n == 1 then
      redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[i + 1])
    else
      redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[i + 1], 'n', n)
    end
    room = room - n
    taken = taken + n
  else
    -- Once one is refused, so is every later one: the spill keeps its order.
    refused = refused + n
  end
end
spill_set(KEYS[1], KEYS[2], held - expired + taken)
return { taken, refused, expired }
