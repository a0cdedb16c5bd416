"""The shared cache (recsite/cache.py): one count for every process, a clear() that keeps
other sites' keys, and a Redis that is away makes misses, not errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from recsite.cache import SharedRedisCache, cache_settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_settings_put_the_cache_in_the_brokers_redis():
    assert settings.CACHES["default"]["BACKEND"] == "recsite.cache.SharedRedisCache"
    assert cache_settings("redis+socket:///srv/var/redis.sock", "shop")["LOCATION"] == "unix:///srv/var/redis.sock"
    assert cache_settings("redis://cache.internal:6379/2", "shop")["LOCATION"] == "redis://cache.internal:6379/2"
    for per_process in ("locmem://", "amqp://guest@127.0.0.1:5672//"):
        assert cache_settings(per_process, "shop")["BACKEND"].endswith("LocMemCache")


def test_another_process_attempts_count_against_the_same_login_limit(client, db):
    """Ten failed log-ins counted by another process (another gunicorn worker): this one refuses
    the eleventh. With a cache per process it would have let ten more through."""
    script = (
        "import django; django.setup(); from django.contrib.auth.models import AnonymousUser; "
        "from django.test import RequestFactory; from catalog.throttling import password_attempt_wait; "
        "request = RequestFactory().post('/accounts/login/', REMOTE_ADDR='203.0.113.9'); "
        "request.user = AnonymousUser(); print([password_attempt_wait(request) for _ in range(10)])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "recsite.settings_test"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == str([None] * 10)
    refused = client.post("/accounts/login/", {"username": "x", "password": "y"}, REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    other = client.post("/accounts/login/", {"username": "x", "password": "y"}, REMOTE_ADDR="203.0.113.10")
    assert other.status_code == 200  # the form again, with its error: another address has its own count


def test_clear_removes_this_sites_keys_only():
    neighbour = SharedRedisCache(settings.CACHES["default"]["LOCATION"], {"KEY_PREFIX": "neighbour[1]*"})
    lookalike = SharedRedisCache(settings.CACHES["default"]["LOCATION"],
                                 {"KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"] + "x"})
    try:
        neighbour.set("feed", "theirs", 60)
        lookalike.set("feed", "theirs too", 60)
        cache.set("feed", "ours", 60)
        assert cache.clear() is True
        assert cache.get("feed") is None
        assert neighbour.get("feed") == "theirs" and lookalike.get("feed") == "theirs too"
    finally:
        neighbour.delete("feed")
        lookalike.delete("feed")


def test_a_redis_that_is_away_is_a_miss_and_is_not_retried_at_once(tmp_path, caplog, monkeypatch):
    away = SharedRedisCache(f"unix://{tmp_path}/no-redis.sock", {"KEY_PREFIX": "away"})
    monkeypatch.setattr("recsite.cache._FailSoftClient.down_until", 0.0)
    calls = []
    original = away._cache.get_client
    monkeypatch.setattr(away._cache, "get_client", lambda *a, **k: calls.append(1) or original(*a, **k))
    started = time.monotonic()
    assert away.get("feed", "default") == "default"
    away.set("feed", [1, 2], 60)
    assert away.add("mail-sent", 1, 60) is True  # a limit counted in the cache lets the request through
    assert away.get_many(["a", "b"]) == {} and away.delete("feed") is False and away.clear() is False
    assert away.available() is False
    assert time.monotonic() - started < 1
    assert len(calls) == 1, "tried again within DOWN_SECONDS"
    assert "cache unavailable" in caplog.text
