-- What a connecting session starts from, read in one atomic step: the user's categories and
-- every id in the offline list (bounded by the inbox cap), oldest first.
-- KEYS[1]  the user's category set
-- KEYS[2]  the user's inbox list
-- Returns  { categories, ids }
return { redis.call('SMEMBERS', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1) }
