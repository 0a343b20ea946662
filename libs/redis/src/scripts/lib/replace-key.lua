-- replace_key(key, field, value, cap, seconds): set the replace key `field` of the hash `key` to
-- `value` and return what it held before (false when nothing). The hash lives `seconds` from now
-- (refreshed by every replace) and holds at most `cap` keys: past it one other key, chosen at
-- random, is forgotten (its next message then replaces nothing).
local function replace_key(key, field, value, cap, seconds)
  local old = redis.call('HGET', key, field)
  if redis.call('HSET', key, field, value) == 1 and redis.call('HLEN', key) > cap then
    local two = redis.call('HRANDFIELD', key, 2)
    redis.call('HDEL', key, two[1] == field and two[2] or two[1])
  end
  redis.call('EXPIRE', key, seconds)
  return old
end
