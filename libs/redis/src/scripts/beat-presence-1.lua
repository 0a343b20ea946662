-- Say a gateway instance is alive for presence (and register it), stamped with the Redis
-- server's clock, so that readers and gateways whose clocks disagree judge liveness alike; and
-- forget instances that stopped beating long ago.
-- KEYS[1]  the registry of gateway instances (sorted set: instance -> live until, Redis ms)
-- ARGV[1]  the instance (`<nonce>|<GATEWAY_ID>`)
-- ARGV[2]  how long this beat keeps the instance live, ms
-- ARGV[3]  instances live until longer ago than this, ms, are removed
-- Returns  the time the instance is live until (Redis time, epoch ms)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], until_ms, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))
return until_ms
