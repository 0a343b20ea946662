-- Store a message's body and its record together (message-record.ts), both with the message's TTL,
-- unless the message was recalled (a retry under an Idempotency-Key after a recall stores nothing).
-- KEYS[1]  the body (string)
-- KEYS[2]  the record (hash; same hash tag as the body)
-- ARGV[1]  the encoded body
-- ARGV[2]  TTL, ms (at least 1)
-- ARGV[3…] the record's fields and values, in pairs
-- Returns  1 when stored, 0 when the record says the message was recalled
--@include store-message
return store_message(KEYS[1], KEYS[2], ARGV[1], ARGV[2], { unpack(ARGV, 3) })
