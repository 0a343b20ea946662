-- Remove message ids (acknowledged) from many users' inboxes: remove-ids-1.lua for each user in
-- one call (on a Cluster, the keys of one call must share a slot: one user per call).
-- KEYS     per user: its inbox list
-- ARGV     per user, in KEYS' order: n, then n ids
-- Returns  how many entries were removed in all; a user whose removal fails (a key of the wrong
--          type) costs only its own ids, which stay
local removed = 0
local at = 1
for user = 1, #KEYS do
  local n = tonumber(ARGV[at])
  for i = at + 1, at + n do
    local ok, n = pcall(redis.call, 'LREM', KEYS[user], 0, ARGV[i])
    if ok then removed = removed + n end
  end
  at = at + 1 + n
end
return removed
