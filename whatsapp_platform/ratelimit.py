"""Token buckets: in Redis when configured (shared by every worker), in-process otherwise."""

import threading
import time

from django.conf import settings

# KEYS[1] bucket key; ARGV: rate per second, capacity, now (s), tokens wanted.
# Returns the seconds to wait before the tokens are available (0 = taken now).
_LUA_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
else
  wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""

_local_lock = threading.Lock()
_local_buckets: dict[str, tuple[float, float]] = {}
_redis_client = None
_redis_script = None


def _redis():
    global _redis_client, _redis_script
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _redis_script = _redis_client.register_script(_LUA_TAKE)
    return _redis_script


def token_bucket_take(key: str, *, rate: float, capacity: float, tokens: float = 1.0) -> float:
    """Take tokens from the bucket; returns 0 when taken, else the seconds to wait (nothing taken)."""
    now = time.time()
    if settings.REDIS_URL:
        return float(_redis()(keys=[f"{settings.CACHE_KEY_PREFIX}:bucket:{key}"], args=[rate, capacity, now, tokens]))
    with _local_lock:
        available, at = _local_buckets.get(key, (capacity, now))
        available = min(capacity, available + max(0.0, now - at) * rate)
        if available >= tokens:
            _local_buckets[key] = (available - tokens, now)
            return 0.0
        _local_buckets[key] = (available, now)
        return (tokens - available) / rate


def local_buckets_clear() -> None:
    """Forget the in-process buckets (tests start each case with full buckets)."""
    with _local_lock:
        _local_buckets.clear()
