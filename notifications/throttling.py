"""A fixed-window rate limit: one counter per client per window.

DRF's SimpleRateThrottle keeps a list of every request time in the window and rewrites it
(pickled) on each request, so its cost grows with the allowed rate: at 6000/min it was a
fifth of a publish's CPU. A counter costs one `add` and one `incr`, whatever the rate; the
price is that a client may use up to twice its rate across a window boundary.
"""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class FixedWindowRateThrottle(SimpleRateThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = int(self.timer())
        window_start = now - now % self.duration
        key = f"{self.key}:{window_start}"
        self.cache.add(key, 0, self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # the key expired between add and incr
            self.cache.add(key, 1, self.duration + 1)
            count = 1
        self._retry_after = window_start + self.duration - now
        return bool(count <= self.num_requests)

    def wait(self) -> float:
        return float(max(1, getattr(self, "_retry_after", self.duration)))
