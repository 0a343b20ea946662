-- Move the user's read positions forward (acknowledged category messages), never back, and only
-- for categories the user is still a member of (an ack that comes after a leave changes nothing).
-- KEYS[1]  the user's category positions (hash: category -> log entry id `<ms>-<seq>`)
-- KEYS[2]  the user's category set
-- ARGV     pairs: category, entry id
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
for i = 1, #ARGV, 2 do
  local category, id = ARGV[i], ARGV[i + 1]
  if redis.call('SISMEMBER', KEYS[2], category) == 1 then
    local current = redis.call('HGET', KEYS[1], category)
    if not current or later(id, current) then
      redis.call('HSET', KEYS[1], category, id)
      moved = moved + 1
    end
  end
end
return moved
