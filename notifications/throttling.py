"""A sliding-window rate limit built from two fixed-window counters.

DRF's SimpleRateThrottle keeps a list of every request time in the window and rewrites it
(pickled) on each request, so its cost grows with the allowed rate: at 6000/min it was a
fifth of a publish's CPU. Here a client costs one counter per window: the estimate is this
window's count plus the previous window's, weighted by how much of it still overlaps the
sliding window (the approach of Cloudflare's and nginx's limiters). On Redis that is one
pipelined round trip per request (get the previous counter, create the current one if
absent, increment it), whatever the rate; a refused request is not counted.
"""

import contextlib
import math
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class SlidingWindowRateThrottle(SimpleRateThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        window, limit = self.duration, self.num_requests
        now = self.timer()
        start = now - now % window
        elapsed = (now - start) / window  # 0..1 through the current window
        current = f"{self.key}:{int(start)}"
        previous, count = self._count(current, f"{self.key}:{int(start - window)}", 2 * window + 1)
        if previous * (1 - elapsed) + count <= limit:
            return True
        with contextlib.suppress(ValueError):  # the key expired meanwhile: nothing to undo
            self.cache.decr(current)  # a refused request does not use up the allowance
        count -= 1
        if count >= limit:  # full on its own: wait for the next window, then for the overlap
            self._retry_after = ((1 - elapsed) + max(0.0, 1 - (limit - 1) / count)) * window
        else:  # the previous window's share has to shrink first
            self._retry_after = max(0.0, 1 - (limit - count - 1) / previous - elapsed) * window
        return False

    def _count(self, current: str, previous: str, ttl: int) -> tuple[int, int]:
        """(the previous window's count, the current one's after counting this request)."""
        client = getattr(self.cache, "redis_client", None)  # config.cache.TolerantRedisCache
        if client is not None:
            # One round trip instead of four (Django's incr checks existence first). The
            # keys are the cache's own, so the generic path below reads the same counters.
            pipe = client.pipeline(transaction=False)
            pipe.get(self.cache.make_and_validate_key(previous))
            pipe.set(self.cache.make_and_validate_key(current), 0, nx=True, ex=ttl)
            pipe.incr(self.cache.make_and_validate_key(current))
            before, _, count = pipe.execute()
            return int(before or 0), int(count)
        before = int(self.cache.get(previous, 0) or 0)
        self.cache.add(current, 0, ttl)
        try:
            return before, int(self.cache.incr(current))
        except ValueError:  # the key expired between add and incr
            self.cache.add(current, 1, ttl)
            return before, 1

    def wait(self) -> float:
        return float(max(1, math.ceil(getattr(self, "_retry_after", self.duration))))
