-- Unregister an exposure write-ahead log once a rescuer has copied it into the spill and deleted
-- its batches (the second step of the rescue, see claim-wal), unless its process beat since the
-- claim: it was only paused, and keeps its registration and the batches it wrote since.
-- KEYS[1]  the registry of write-ahead logs (sorted set: log id -> last heartbeat, Redis ms)
-- ARGV[1]  the log id
-- ARGV[2]  the claim's stamp (what claim-wal returned)
-- Returns  1 when the log was unregistered, 0 otherwise
local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
if beat and tonumber(beat) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
