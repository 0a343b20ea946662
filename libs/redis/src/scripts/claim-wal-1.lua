-- Claim the exposure write-ahead log of a gateway process that stopped beating, before copying it
-- into the spill (the first of the rescue's two steps: the log is on its own Cluster slot, so it
-- cannot move in one script). The claim stamps the log's heartbeat with now, by the Redis
-- server's clock: for another claim period no gateway takes it for dead, so one rescuer copies it
-- at a time. A rescuer that dies mid-copy leaves what it did not delete to be claimed again once
-- that period has passed (batches it copied but did not delete come twice; the consumer stores
-- each event id once).
-- KEYS[1]  the registry of write-ahead logs (sorted set: log id -> last heartbeat, Redis ms)
-- ARGV[1]  the log id
-- ARGV[2]  how long a log may go without a heartbeat, ms: one that beat within it is left alone
-- Returns  the claim's stamp (Redis ms, for release-wal), or -1 when the log is alive, claimed
--          by another rescuer, or no longer registered
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not beat or tonumber(beat) > now - tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
