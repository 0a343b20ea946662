-- The exposure write-ahead logs whose process stopped beating, judged by the Redis server's
-- clock (the one the heartbeats carry), never by the caller's.
-- KEYS[1]  the registry of write-ahead logs (sorted set: log id -> last heartbeat, Redis ms)
-- ARGV[1]  how long a log may go without a heartbeat, ms
-- ARGV[2]  the most ids to return
-- Returns  the ids of the logs silent for longer than ARGV[1], oldest first
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
