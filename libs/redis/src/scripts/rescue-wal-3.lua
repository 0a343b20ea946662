-- Move the exposure write-ahead log of a gateway process that stopped beating into the spill
-- stream (any gateway replays the spill), unless it beat again since the caller looked. Staleness
-- is judged by the Redis server's clock, which also stamps the heartbeats (beat-wal).
-- KEYS[1]  the registry of write-ahead logs (sorted set: log id -> last heartbeat, Redis ms)
-- KEYS[2]  the log (hash: batch number -> events, one JSON per line)
-- KEYS[3]  the spill stream
-- ARGV[1]  the log id
-- ARGV[2]  how long a log may go without a heartbeat, ms: one that beat within it is left alone
-- ARGV[3]  the spill stream's event field
-- Returns  how many events were moved, or -1 when the log is alive
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
if beat and tonumber(beat) > now - tonumber(ARGV[2]) then return -1 end
local flat = redis.call('HGETALL', KEYS[2])
local batches = {}
for i = 1, #flat, 2 do batches[#batches + 1] = { tonumber(flat[i]), flat[i + 1] } end
table.sort(batches, function(a, b) return a[1] < b[1] end)
local moved = 0
for _, batch in ipairs(batches) do
  for event in string.gmatch(batch[2], '[^\n]+') do
    redis.call('XADD', KEYS[3], '*', ARGV[3], event)
    moved = moved + 1
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return moved
