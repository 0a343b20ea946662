-- What a connecting session starts from, read in one atomic step: the user's categories, every
-- id in the offline list (bounded by the inbox cap), oldest first, and the user's read position
-- in each category's log.
-- KEYS[1]  the user's category set
-- KEYS[2]  the user's inbox list
-- KEYS[3]  the user's category positions (hash: category -> log entry id)
-- Returns  { categories, ids, { category, position, … } }
return { redis.call('SMEMBERS', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1), redis.call('HGETALL', KEYS[3]) }
