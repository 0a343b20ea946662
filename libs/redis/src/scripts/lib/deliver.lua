-- deliver(inbox, channel, remembered, replace_keys, id, cap, note, unique, lifetime, remember_seconds,
-- replace): one user's delivery, as deliver-4.lua describes it (its KEYS and ARGV in that order;
-- `cap`, `lifetime` and `remember_seconds` as strings or numbers). Needs lib/remember.lua and
-- lib/replace-key.lua included before it. Returns deliver-4.lua's reply.
local function deliver(inbox, channel, remembered, replace_keys, id, cap_arg, note, unique, lifetime, remember_seconds, replace)
  if unique == '1' then
    if redis.call('ZSCORE', remembered, id) or redis.call('LPOS', inbox, id, 'RANK', -1) then
      return { -1, 0, 0 }
    end
  end
  local cap = tonumber(cap_arg)
  local replaced = 0
  if replace ~= '' then
    local old = replace_key(replace_keys, replace, id, cap, lifetime)
    if old and old ~= id then
      replaced = redis.call('LREM', inbox, 0, old)
      note = 'x' .. old .. '|' .. note
    end
  end
  local len = redis.call('RPUSH', inbox, id)
  local dropped = 0
  local dropped_ids = {}
  if len > cap then
    dropped = len - cap
    dropped_ids = redis.call('LRANGE', inbox, 0, dropped - 1)
    redis.call('LTRIM', inbox, dropped, -1)
  end
  redis.call('EXPIRE', inbox, lifetime)
  local seconds = tonumber(remember_seconds)
  if seconds > 0 then
    local t = redis.call('TIME')
    remember(remembered, id, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), seconds, cap)
  end
  local receivers = redis.call('SPUBLISH', channel, note)
  return { dropped, replaced, receivers, unpack(dropped_ids) }
end
