-- One chunk of the write protocol on one redis-server (send-batch.ts): for each part, in order,
-- store the message's body and record (store-message-2.lua) when the part carries them, then
-- deliver it to the part's users (deliver-4.lua), one script call for the whole chunk instead of
-- one per body and one per user. Each step runs in `pcall`: a step that fails (a key of the wrong
-- type, Redis refusing writes) costs only its own result, as a call of its own would; a part
-- whose body was not stored (recalled, or failed) delivers nothing.
-- KEYS     per part: its body and record when it stores them, then 4 keys per user (deliver-4.lua's)
-- ARGV     per part: '1' or '0' (stores the body); when '1' the encoded body, its TTL (ms) and the
--          count of record fields and values, then those; then the message id, the note, the inbox
--          cap, unique ('1'/'0'), the inbox lifetime (s), seconds to remember, the replace key ('' for
--          none) and the count of users
-- Returns  per part { store, delivery per user }: store is 1 (stored), 0 (recalled), 2 (the part
--          stores nothing) or the error's text; a delivery is deliver-4.lua's reply, or the error's
--          text
--@include remember
--@include replace-key
--@include deliver
--@include store-message
local function failure(err)
  if type(err) == 'table' and err.err then return err.err end
  return tostring(err)
end
local results = {}
local k, a = 1, 1
while a <= #ARGV do
  local part = {}
  local stored = 2
  if ARGV[a] == '1' then
    local n = tonumber(ARGV[a + 3])
    local fields = { unpack(ARGV, a + 4, a + 3 + n) }
    local ok, res = pcall(store_message, KEYS[k], KEYS[k + 1], ARGV[a + 1], ARGV[a + 2], fields)
    stored = ok and res or failure(res)
    k = k + 2
    a = a + 4 + n
  else
    a = a + 1
  end
  part[1] = stored
  local id, note, cap, unique, lifetime, seconds, replace = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  local users = tonumber(ARGV[a + 7])
  a = a + 8
  if stored == 1 or stored == 2 then
    for u = 1, users do
      local ok, res = pcall(deliver, KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], id, cap, note, unique, lifetime, seconds, replace)
      part[u + 1] = ok and res or failure(res)
      k = k + 4
    end
  else
    k = k + 4 * users
  end
  results[#results + 1] = part
end
return results
