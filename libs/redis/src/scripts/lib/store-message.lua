-- store_message(body, record, encoded, ttl_ms, fields): store-message-2.lua's work (its KEYS, then
-- ARGV[1], ARGV[2] and the record's fields and values as the table `fields`). Returns 1 when
-- stored, 0 when the record says the message was recalled.
local function store_message(body, record, encoded, ttl_ms, fields)
  if redis.call('HGET', record, 'state') == 'recalled' then
    return 0
  end
  redis.call('SET', body, encoded, 'PX', ttl_ms)
  redis.call('HSET', record, unpack(fields))
  redis.call('PEXPIRE', record, ttl_ms)
  return 1
end
