-- Remove a message's entries from a category's log (a recall), whatever the log's length: read a
-- page of entries at a time and delete those naming the message.
-- KEYS[1]  the category's log (stream; entries: i = message id, e = expiry)
-- ARGV[1]  the message id
-- Returns  how many entries were removed
local removed = 0
local from = '-'
while true do
  local page = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 1000)
  for _, entry in ipairs(page) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'i' and fields[i + 1] == ARGV[1] then
        removed = removed + redis.call('XDEL', KEYS[1], entry[1])
      end
    end
  end
  if #page < 1000 then
    return removed
  end
  from = '(' .. page[#page][1]
end
