-- Remove message ids from a user's inbox (acknowledged, or expired).
-- KEYS[1]  the user's inbox list
-- ARGV     the ids
-- Returns  how many entries were removed
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('LREM', KEYS[1], 0, ARGV[i])
end
return removed
