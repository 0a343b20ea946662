-- Move users' read positions forward (acknowledged category messages), never back, and only for
-- categories each user is still a member of (an ack that comes after a leave changes nothing).
-- Any number of users (on a Cluster, the keys of one call must share a slot: one user per call).
-- KEYS     per user: its category positions (hash: category -> log entry id `<ms>-<seq>`), then
--          its category set
-- ARGV     per user, in KEYS' order: n, then n pairs: category, entry id
-- Returns  how many positions moved
local function later(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  if not bms then return true end
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then return ams > bms end
  return tonumber(aseq) > tonumber(bseq)
end
local moved = 0
local at = 1
for user = 1, #KEYS, 2 do
  local positions, categories = KEYS[user], KEYS[user + 1]
  local n = tonumber(ARGV[at])
  for i = at + 1, at + 2 * n, 2 do
    local category, id = ARGV[i], ARGV[i + 1]
    if redis.call('SISMEMBER', categories, category) == 1 then
      local current = redis.call('HGET', positions, category)
      if not current or later(id, current) then
        redis.call('HSET', positions, category, id)
        moved = moved + 1
      end
    end
  end
  at = at + 1 + 2 * n
end
return moved
