-- Move users' read positions forward (acknowledged category messages), never back, and only for
-- categories each user is still a member of (an ack that comes after a leave changes nothing).
-- Any number of users (on a Cluster, the keys of one call must share a slot: one user per call).
-- KEYS     per position to move: the user's category positions (hash: category -> log entry id
--          `<ms>-<seq>`), then its category set
-- ARGV     groups, in KEYS' order: a category, an entry id, n: the next n positions (key pairs)
--          move to that entry in that category (a broadcast's window is one group)
-- Returns  how many positions moved
--
-- A position is there only while the user is a member: a join writes it and a leave removes it in
-- the same script as the set (replace-categories-5.lua), so the set is read only when there is
-- none (a member whose position was never written). A broadcast moves one position per member:
-- this runs for each, and reads, parses, compares and writes as little as it can
-- (docs/BENCHMARKS.md).

-- Whether entry id `a` comes after `b`. Ids are decimal without leading zeros (XADD's, or a join's
-- `<ms>-0`): compared as text, without parsing a number (as the gateway's compareEntryIds): more
-- ms digits is later; the same ms with more sequence digits is later; else the text decides.
local function later(a, b)
  local ad, bd = string.find(a, '-', 1, true), string.find(b, '-', 1, true)
  if not bd then return true end
  if ad ~= bd then return ad > bd end
  if #a ~= #b then
    local ams, bms = string.sub(a, 1, ad), string.sub(b, 1, bd)
    if ams ~= bms then return ams > bms end
    return #a > #b
  end
  return a > b
end
local moved = 0
local k = 1
for at = 1, #ARGV, 3 do
  local category, id = ARGV[at], ARGV[at + 1]
  for _ = 1, tonumber(ARGV[at + 2]) do
    local positions = KEYS[k]
    local current = redis.call('HGET', positions, category)
    if current then
      if later(id, current) then
        redis.call('HSET', positions, category, id)
        moved = moved + 1
      end
    elseif redis.call('SISMEMBER', KEYS[k + 1], category) == 1 then
      redis.call('HSET', positions, category, id)
      moved = moved + 1
    end
    k = k + 2
  end
end
return moved
