-- Forget spilled exposure events once Pub/Sub has accepted them: acknowledge them in the replay
-- group and delete them from the stream, in one step.
-- KEYS[1]  the spill stream
-- ARGV[1]  the consumer group
-- ARGV[2…] the entry ids
-- Returns  how many entries were deleted
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
