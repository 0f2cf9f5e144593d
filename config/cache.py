"""A Redis cache that degrades instead of failing when Redis is unreachable.

The cache holds only soft state here (rate-limit counters, live connection counts). Redis
going down must not take publishing down with it (SPEC: the store alone decides whether a
notification is accepted), so reads miss and writes are dropped while Redis is away.
"""

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from notifications import metrics

logger = logging.getLogger(__name__)

_MISSING = object()


class TolerantRedisCache(RedisCache):
    def _soft(self, op: str, default: Any, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except RedisError:
            metrics.LAYER_ERRORS.labels(op=f"cache_{op}").inc()
            logger.warning("cache %s failed; Redis unreachable, continuing without it", op)
            return default

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._soft("get", default, super().get, key, default, version)

    def get_many(self, keys: Any, version: Any = None) -> Any:
        return self._soft("get", {}, super().get_many, keys, version)

    def set(self, key: Any, value: Any, timeout: Any = _MISSING, version: Any = None) -> None:
        args = (key, value) if timeout is _MISSING else (key, value, timeout)
        self._soft("set", None, super().set, *args, version=version)

    def set_many(self, data: Any, timeout: Any = _MISSING, version: Any = None) -> list[Any]:
        args = (data,) if timeout is _MISSING else (data, timeout)
        return self._soft("set", [], super().set_many, *args, version=version)  # type: ignore[no-any-return]

    def add(self, key: Any, value: Any, timeout: Any = _MISSING, version: Any = None) -> bool:
        args = (key, value) if timeout is _MISSING else (key, value, timeout)
        return bool(self._soft("add", False, super().add, *args, version=version))

    def delete(self, key: Any, version: Any = None) -> bool:
        return bool(self._soft("delete", False, super().delete, key, version))

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        # A missing key still raises ValueError, as callers expect; only Redis errors are soft.
        return int(self._soft("incr", 0, super().incr, key, delta, version))

    def decr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return int(self._soft("decr", 0, super().decr, key, delta, version))
