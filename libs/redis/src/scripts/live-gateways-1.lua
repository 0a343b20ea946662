-- The gateway instances whose presence counts now, by the Redis server's clock (the one their
-- beats are stamped with), never by the caller's.
-- KEYS[1]  the registry of gateway instances (sorted set: instance -> live until, Redis ms)
-- Returns  the instances live until a time later than now
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
