-- Append exposure events to the spill stream, within its bounds: entries older than the age bound
-- are trimmed first, and events past the size bound are refused (the oldest are kept: the
-- replay publishes in order, and entries being replayed are never cut from under it). Ages are
-- judged by the Redis server's clock, which also stamps the entry ids.
-- KEYS[1]  the spill stream
-- ARGV[1]  the stream's event field
-- ARGV[2]  the most entries the stream may hold
-- ARGV[3]  the oldest entry kept, ms of age (0: no age bound)
-- ARGV[4…] the events, oldest first (the caller sends at most a few thousand)
-- Returns  { events appended, events refused (the stream was full), entries trimmed by age }
local expired = 0
local maxAge = tonumber(ARGV[3])
if maxAge > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  expired = redis.call('XTRIM', KEYS[1], 'MINID', tostring(now - maxAge))
end
local room = tonumber(ARGV[2]) - redis.call('XLEN', KEYS[1])
local events = #ARGV - 3
local take = math.min(events, math.max(room, 0))
for i = 4, 3 + take do
  redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[i])
end
return { take, events - take, expired }
