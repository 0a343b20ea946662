-- Create a scheduled message's record (message-record.ts), state `scheduled`, unless the message
-- already has one (a repeat under an Idempotency-Key: the record says what became of it).
-- KEYS[1]  the record (hash)
-- ARGV[1]  the record's lifetime, ms (until well after the message would expire)
-- ARGV[2…] the record's fields and values, in pairs (state first)
-- Returns  'created', or the state of the record that was already there
local state = redis.call('HGET', KEYS[1], 'state')
if state then
  return state
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 'created'
