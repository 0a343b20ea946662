-- Say a gateway process's exposure write-ahead log is alive (and register it), stamped with the
-- Redis server's clock, so that gateways whose clocks disagree judge staleness alike.
-- KEYS[1]  the registry of write-ahead logs (sorted set: log id -> last heartbeat, Redis ms)
-- ARGV[1]  the log id
-- Returns  the heartbeat written (Redis time, epoch ms)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
