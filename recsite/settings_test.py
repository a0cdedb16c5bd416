"""Settings for the test suite: the real database server and broker, a queue of its own."""

import os

# A queue per test database: parallel runs (RECSITE_DB_NAME) share the broker, and on one queue
# each run's worker took the other's tasks (running them against its own database) and each
# run's start purged the other's queue.
os.environ.setdefault("CELERY_QUEUE", "-".join(filter(None, ["recsite-test", os.environ.get("RECSITE_DB_NAME")])))

from recsite.settings import *  # noqa: F403

# the test database's name: the development site on the same Redis keeps its cache through a test's clear()
CACHES["default"]["KEY_PREFIX"] = "test_" + DATABASES["default"]["NAME"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
RECSYS_ARTIFACT_DIR = VAR_DIR / "test-models"  # noqa: F405
RECSYS_MODEL_CHECK_SECONDS = 0.0  # tests activate versions and expect them served at once
# Redis hands a dead worker's unacknowledged (acks_late) task to a worker again once it is older
# than the visibility timeout (10 s for the test worker, tests/conftest.py), but kombu only looks
# for such tasks every unacked_restore_interval x unacked_restore_throttle seconds, 10 x 10 by
# default (and once when a worker starts): a killed worker's task came back after ~100 s. The test
# worker looks every second. A worker killed while holding the look's mutex (for a millisecond)
# would stop everyone's looks until it expires: 10 s, not 5 minutes.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "unacked_restore_interval": 1, "unacked_restore_throttle": 1, "unacked_mutex_expire": 10,
}
