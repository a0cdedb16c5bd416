"""The session engine (``SESSION_ENGINE``): Django's database sessions, where a cookie no
session key can be is no session.

Django makes keys of lowercase letters and digits but looked up any cookie of 8 characters or
more; one with a NUL in it was a database error: a 500 on every storefront page, a 400 from the
API. Such a cookie now counts as no session, as a too-short one does (a new one is started).
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        return bool(super()._validate_session_key(key)) and set(key or "") <= set(VALID_KEY_CHARS)
