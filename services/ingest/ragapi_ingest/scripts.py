"""Lua scripts of :mod:`.records`: each changes a document and its task counters at once.

``ARGV[1]`` is the tenant's key prefix; keys are built inside the scripts, all
under the tenant's hash tag, so one tenant's keys stay in one cluster slot.
Task counters are ``n:<status>`` fields of ``task:<id>`` (``n:gone`` for
documents deleted since); a status move only counts when the status changed,
so redelivered jobs never count twice.
"""

from __future__ import annotations

SET_STATUS = """
local prefix, doc_id, status, now, allowed = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = prefix .. 'doc:' .. doc_id
local old = redis.call('HGET', key, 'status')
if not old then return {0, ''} end
if allowed ~= '*' and not string.find(',' .. allowed .. ',', ',' .. old .. ',', 1, true) then
  return {0, old}
end
local seq = redis.call('HGET', key, 'seq')
redis.call('ZREM', prefix .. 'docs:' .. old, doc_id)
redis.call('ZADD', prefix .. 'docs:' .. status, seq, doc_id)
redis.call('HSET', key, 'status', status, 'updated_at', now)
if status ~= 'failed' then redis.call('HDEL', key, 'error') end
for i = 6, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
if old ~= status then
  for _, task in ipairs(redis.call('SMEMBERS', key .. ':tasks')) do
    redis.call('HINCRBY', prefix .. 'task:' .. task, 'n:' .. old, -1)
    redis.call('HINCRBY', prefix .. 'task:' .. task, 'n:' .. status, 1)
  end
end
return {1, old}
"""

CLAIM_SHA = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then return current end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return false
"""

RELEASE_SHA = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""

SET_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
"""


JOIN_TASK = """
local prefix, doc_id, task = ARGV[1], ARGV[2], ARGV[3]
local key = prefix .. 'doc:' .. doc_id
local status = redis.call('HGET', key, 'status')
if not status then return 0 end
if redis.call('SADD', key .. ':tasks', task) == 1 then
  redis.call('HINCRBY', prefix .. 'task:' .. task, 'n:' .. status, 1)
end
return 1
"""

REMOVE_DOCUMENT = """
local prefix, doc_id = ARGV[1], ARGV[2]
local key = prefix .. 'doc:' .. doc_id
local status = redis.call('HGET', key, 'status')
if status then
  redis.call('ZREM', prefix .. 'docs:' .. status, doc_id)
  for _, task in ipairs(redis.call('SMEMBERS', key .. ':tasks')) do
    redis.call('HINCRBY', prefix .. 'task:' .. task, 'n:' .. status, -1)
    redis.call('HINCRBY', prefix .. 'task:' .. task, 'n:gone', 1)
  end
end
redis.call('ZREM', prefix .. 'docs', doc_id)
redis.call('DEL', key, key .. ':tasks', key .. ':objects')
return status and 1 or 0
"""
