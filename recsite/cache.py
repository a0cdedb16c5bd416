"""The cache every process shares: web workers, Celery workers, management commands.

A cache per process (Django's default, local memory) counts each gunicorn worker's throttles
apart, so ``N`` workers let ``N`` times the login rate through, and each keeps its own copy of
every feed. By default this cache lives in the broker's Redis (the embedded one unless
``CELERY_BROKER_URL`` names another); ``CACHE_URL`` names any other, or ``locmem://``.

Django's Redis cache, changed in two ways for a Redis that is shared and may go away:

* ``clear()`` removes this site's keys (its ``KEY_PREFIX``), not the whole database, which
  also holds the broker's queues and may hold other sites' (or test runs') keys.
* An unreachable Redis makes the cache a miss, not an error: reads give their default, writes
  are dropped, ``add`` says added (so a limit that counts with it lets the request through),
  and for ``DOWN_SECONDS`` after a failure the cache is not tried at all, so a page pays for
  one failed connection, not one per lookup. The site runs slower and throttles count nothing
  until Redis is back; ``/readyz`` reports it (a warning, not a failure).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
DOWN_SECONDS = 5.0
SOCKET_TIMEOUT_SECONDS = 0.5


def cache_settings(url: str, key_prefix: str) -> dict[str, Any]:
    """Django's ``CACHES["default"]`` for ``url``: ``redis://``, ``rediss://``, ``unix://``,
    Celery's ``redis+socket://`` (the embedded Redis), or ``locmem://`` (each process its own).
    Anything else (an AMQP broker) is not a cache: local memory."""
    scheme = urlsplit(url).scheme
    if scheme == "redis+socket":
        url, scheme = "unix://" + url.removeprefix("redis+socket://"), "unix"
    if scheme not in ("redis", "rediss", "unix"):
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "recsite.cache.SharedRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {"socket_connect_timeout": SOCKET_TIMEOUT_SECONDS, "socket_timeout": SOCKET_TIMEOUT_SECONDS},
    }


class _FailSoftClient(RedisCacheClient):
    """Django's Redis client whose failures are cache misses (see the module's docstring)."""

    down_until = 0.0  # per process: every cache of the process shares the one Redis

    def _soft(self, call: Callable[[], Any], fallback: Any) -> Any:
        if time.monotonic() < _FailSoftClient.down_until:
            return fallback
        try:
            return call()
        except RedisError as exc:
            _FailSoftClient.down_until = time.monotonic() + DOWN_SECONDS
            logger.warning("cache unavailable (%s: %s): running without it for %.0f s",
                           exc.__class__.__name__, exc, DOWN_SECONDS)
            return fallback


def _fail_soft(name: str, fallback: Any) -> None:
    method = getattr(RedisCacheClient, name)

    @functools.wraps(method)
    def wrapper(self: _FailSoftClient, *args: Any) -> Any:
        # ``get`` falls back to its own default argument; the others to a constant
        value = args[1] if name == "get" else fallback
        return self._soft(lambda: method(self, *args), value)

    setattr(_FailSoftClient, name, wrapper)


for _name, _fallback in {"get": None, "get_many": {}, "has_key": False, "add": True, "set": None,
                         "set_many": None, "touch": False, "delete": False, "delete_many": None}.items():
    _fail_soft(_name, _fallback)


class SharedRedisCache(RedisCache):
    """Django's Redis cache, clearing only its own keys and failing soft (module docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _FailSoftClient

    def clear(self) -> bool:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self.key_prefix) + ":*"

        def delete_own_keys() -> bool:
            client = self._cache.get_client(None, write=True)
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    client.delete(*batch)
                    batch.clear()
            if batch:
                client.delete(*batch)
            return True

        return self._cache._soft(delete_own_keys, False)

    def available(self) -> bool:
        """Whether Redis answers now (for ``/readyz``)."""
        return bool(self._cache._soft(lambda: self._cache.get_client(None).ping(), False))
