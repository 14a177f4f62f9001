"""The Lua scripts the Redis store runs: each is one atomic step of the protocol.

A script runs whole on the server, so what it reads and what it writes in between can't
interleave with another process's step: admission checks the limits and the balance and
takes the slot in one go, a settle charges once. ``settle_due`` and ``standing`` are
shared Lua functions, prefixed to the scripts that call them.
"""

from __future__ import annotations

# The key's tasks due by ``now`` are accounted for: charged (tasks due by time, "t") or
# only released (tasks that end by polls, "r", past their retention), slots freed.
# unfinished: zset id -> due; info: hash id -> "charge kind endpoint"; balances: hash.
_SETTLE_DUE = """
local function settle_due(unfinished, info, balances, api_key, now, starting, prefix)
  local due = redis.call('ZRANGEBYSCORE', unfinished, '-inf', now, 'WITHSCORES')
  for i = 1, #due, 2 do
    local id, at = due[i], due[i + 1]
    local entry = redis.call('HGET', info, id)
    local by_time = false
    if entry then
      local charge, kind = string.match(entry, '^(%S+) (%S)')
      by_time = kind == 't'
      charge = tonumber(charge)
      if by_time and api_key ~= '' and charge > 0 then
        local balance = tonumber(redis.call('HGET', balances, api_key) or starting)
        redis.call('HSET', balances, api_key, tostring(balance - charge))
      end
      redis.call('HDEL', info, id)
    end
    redis.call('ZREM', unfinished, id)
    local task = prefix .. 'task:' .. id
    if by_time and redis.call('EXISTS', task) == 1 then
      redis.call('HSETNX', task, 'settled_at', at)
    end
  end
end
local function standing(info, endpoint)
  local count, here, reserved = 0, 0, 0
  for _, entry in ipairs(redis.call('HVALS', info)) do
    local charge, at = string.match(entry, '^(%S+) %S (.*)$')
    count = count + 1
    reserved = reserved + tonumber(charge)
    if at == endpoint then here = here + 1 end
  end
  return count, here, reserved
end
"""

# KEYS: unfinished, info, balances, task, blob, index, deliveries, delivery queue.
# ARGV: api_key, endpoint, max_active, endpoint_limit (-1: none), starting, charge, now,
#       due ('' by polls), record, id, created_at, retention, poll_faults, delivery, prefix,
#       delivery_limit, the delivery as kept when the queue is full.
ADMIT = (
    _SETTLE_DUE
    + """
local api_key, endpoint = ARGV[1], ARGV[2]
local max_active, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local starting, charge, now = ARGV[5], tonumber(ARGV[6]), ARGV[7]
settle_due(KEYS[1], KEYS[2], KEYS[3], api_key, now, starting, ARGV[15])
local count, here, reserved = standing(KEYS[2], endpoint)
if count >= max_active or (limit >= 0 and here >= limit) then return 429 end
if api_key ~= '' then
  local balance = tonumber(redis.call('HGET', KEYS[3], api_key) or starting)
  if balance - reserved < charge then return 402 end
end
local retention = tonumber(ARGV[12])
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', tostring(tonumber(ARGV[11]) - retention))
redis.call('HSET', KEYS[4], 'rec', ARGV[9], 'polls', 0, 'pf', ARGV[13])
redis.call('EXPIRE', KEYS[4], retention)
redis.call('SET', KEYS[5], ARGV[10], 'EX', retention)
redis.call('ZADD', KEYS[6], ARGV[11], ARGV[10])
-- Due by time: charged then. By polls: only released when forgotten, uncharged.
local due, kind = ARGV[8], 't'
if due == '' then due, kind = tostring(tonumber(ARGV[11]) + retention), 'r' end
redis.call('ZADD', KEYS[1], due, ARGV[10])
redis.call('HSET', KEYS[2], ARGV[10], ARGV[6] .. ' ' .. kind .. ' ' .. endpoint)
if ARGV[14] ~= '' then
  if redis.call('ZCARD', KEYS[8]) >= tonumber(ARGV[16]) then
    redis.call('HSET', KEYS[7], ARGV[10], ARGV[17])
  else
    redis.call('HSET', KEYS[7], ARGV[10], ARGV[14])
    local first = ARGV[8]
    if first == '' then first = now end
    redis.call('ZADD', KEYS[8], first, ARGV[10])
  end
  redis.call('EXPIRE', KEYS[7], retention)
end
return 0
"""
)

# KEYS: task hash. ARGV: count the poll? ('1'), return the record? ('1').
POLL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local polls
if ARGV[1] == '1' and redis.call('HGET', KEYS[1], 'pf') ~= '1' then
  polls = redis.call('HINCRBY', KEYS[1], 'polls', 1)
else
  polls = tonumber(redis.call('HGET', KEYS[1], 'polls'))
end
local settled = redis.call('HGET', KEYS[1], 'settled_at')
local record = false
if ARGV[2] == '1' then record = redis.call('HGET', KEYS[1], 'rec') end
return {polls, settled, record}
"""

# KEYS: task, unfinished, info, balances. ARGV: id, api_key, at, starting.
SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if redis.call('HSETNX', KEYS[1], 'settled_at', ARGV[3]) == 1 then
  local entry = redis.call('HGET', KEYS[3], ARGV[1])
  if entry then
    local charge = tonumber(string.match(entry, '^(%S+)'))
    if ARGV[2] ~= '' and charge > 0 then
      local balance = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or ARGV[4])
      redis.call('HSET', KEYS[4], ARGV[2], tostring(balance - charge))
    end
    redis.call('HDEL', KEYS[3], ARGV[1])
  end
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return {tonumber(redis.call('HGET', KEYS[1], 'polls')), redis.call('HGET', KEYS[1], 'settled_at')}
"""

# KEYS: unfinished, info, balances. ARGV: api_key, endpoint, now, starting, prefix.
STANDING = (
    _SETTLE_DUE
    + """
settle_due(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[3], ARGV[4], ARGV[5])
local count, here, reserved = standing(KEYS[2], ARGV[2])
local balance = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or ARGV[4])
return {count, here, tostring(balance - reserved), tostring(balance)}
"""
)

# KEYS: delivery queue, deliveries. ARGV: now, lease until, limit, prefix.
CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local claimed = {}
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  local record = redis.call('HGET', ARGV[4] .. 'task:' .. id, 'rec')
  table.insert(claimed, {redis.call('HGET', KEYS[2], id) or '', record or ''})
end
return claimed
"""
