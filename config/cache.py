"""A Redis cache that degrades instead of failing when Redis is unreachable.

The cache holds only soft state here (rate-limit counters, live connection counts). Redis
going down must not take publishing down with it (SPEC: the store alone decides whether a
notification is accepted), so reads miss and writes are dropped while Redis is away.
"""

import logging
import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

from notifications import metrics

logger = logging.getLogger(__name__)

_MISSING = object()

_clients: dict[tuple[Any, ...], RedisCacheClient] = {}
_clients_lock = threading.Lock()


class TolerantRedisCache(RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._client_key = (tuple(self._servers), tuple(sorted((k, repr(v)) for k, v in self._options.items())))

    @property
    def _cache(self) -> RedisCacheClient:
        """One client, with its connection pools, per process, not per thread.

        Why: Django keeps a cache instance per thread, and Django under ASGI runs every
        request on a fresh thread, so the stock client opened (and health-checked) a new
        Redis connection for every request that touched the cache: the publish throttle,
        on every publish. redis-py's pools are thread-safe; this one is shared.
        """
        key = self._client_key
        client = _clients.get(key)
        if client is None:
            with _clients_lock:
                client = _clients.get(key)
                if client is None:
                    client = self._class(self._servers, **self._options)
                    for write in (True, False):  # create the pools now, not racing on first use
                        client._get_connection_pool(write)
                    _clients[key] = client
        return client

    @property
    def redis_client(self) -> Any:
        """A redis-py client on the shared pool, for callers that pipeline commands."""
        return self._cache.get_client(write=True)

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
