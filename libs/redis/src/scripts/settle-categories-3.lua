-- End one round of a member-set repair (see replace-categories): if the categories changed since
-- the repair read them, hand it the newer state to repair again; otherwise, once no other repair
-- is running, drop the index (the member sets now hold the user exactly for its categories).
-- KEYS[1]  the user's category set
-- KEYS[2]  the user's category index
-- KEYS[3]  the user's category sync hash ('v' and 't:<token>' -> lease end, epoch ms)
-- ARGV[1]  the repair's token
-- ARGV[2]  the version the repair worked from
-- ARGV[3]  lease, ms, for another round (a repair that wrote from older categories must take it:
--          its writes may have landed after the newer repair's)
-- Returns  { 'done' } | { 'again', version, categories, index }
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token = 't:' .. ARGV[1]
redis.call('HDEL', KEYS[3], token)
local version = tonumber(redis.call('HGET', KEYS[3], 'v') or '0')
if version ~= tonumber(ARGV[2]) then
  local lease = tonumber(ARGV[3])
  redis.call('HSET', KEYS[3], token, now + lease)
  redis.call('PEXPIRE', KEYS[3], lease)
  return { 'again', version, redis.call('SMEMBERS', KEYS[1]), redis.call('SMEMBERS', KEYS[2]) }
end
-- A repair still within its lease may yet write a member set (an older one, from categories
-- that are no longer the user's): the index must outlive it. Its own settle finishes the job.
local fields = redis.call('HGETALL', KEYS[3])
for i = 1, #fields, 2 do
  if fields[i] ~= 'v' then
    if tonumber(fields[i + 1]) > now then
      return { 'done' }
    end
    redis.call('HDEL', KEYS[3], fields[i])
  end
end
redis.call('DEL', KEYS[2])
return { 'done' }
