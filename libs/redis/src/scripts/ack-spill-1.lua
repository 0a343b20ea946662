-- Forget spilled exposure events once Pub/Sub has accepted them: acknowledge them in the replay
-- group and delete them from the stream, in one step. The entries are deleted even when the
-- group is gone (destroyed, or the stream recreated): a group made again from the start of the
-- stream must not publish them a second time.
-- KEYS[1]  the spill stream
-- ARGV[1]  the consumer group
-- ARGV[2…] the entry ids (the caller sends at most a few thousand)
-- Returns  how many entries were deleted
redis.pcall('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
