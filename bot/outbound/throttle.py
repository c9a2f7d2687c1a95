"""A token bucket in Redis, shared by every worker: sends per sender stay under a rate."""

import time

# Atomic across workers: refill by elapsed time (Redis's own clock), then take one token or
# answer how many microseconds until one is there.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then
  tokens = burst
  at = now_us
end
tokens = math.min(burst, tokens + (now_us - at) * rate / 1000000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now_us))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"""


class TokenBucket:
    def __init__(self, redis, name, rate, burst=None):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.key = f"throttle:{name}"
        self.rate = float(rate)
        # A burst of at most a second's worth keeps the rate honest over any one-second window.
        self.burst = float(burst if burst is not None else max(1.0, rate / 10))
        self._take = redis.register_script(_TAKE)

    def try_take(self):
        """Take a token now; return 0, or the seconds to wait before trying again."""
        return self._take(keys=[self.key], args=[self.rate, self.burst]) / 1_000_000

    def take(self, timeout=60.0):
        """Block until a token is taken; False after timeout seconds without one."""
        deadline = time.monotonic() + timeout
        while True:
            wait = self.try_take()
            if wait == 0:
                return True
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(wait)
