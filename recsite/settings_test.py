"""Settings for the test suite: the real database server and broker, a queue of its own."""

import os

os.environ.setdefault("CELERY_QUEUE", "recsite-test")

from recsite.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
