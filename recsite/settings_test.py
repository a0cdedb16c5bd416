"""Settings for the test suite: the real database server and broker, a queue of its own."""

import os

os.environ.setdefault("CELERY_QUEUE", "recsite-test")

from recsite.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
RECSYS_ARTIFACT_DIR = VAR_DIR / "test-models"  # noqa: F405
RECSYS_MODEL_CHECK_SECONDS = 0.0  # tests activate versions and expect them served at once
