"""Token authentication for the API (``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` and
``catalog.api.base.ApiMixin``); kept apart from ``base`` because DRF imports it with its settings."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, where a key PostgreSQL cannot compare (a NUL in it) is a 401
    like any wrong key, not a database error (a 400 'value out of range')."""

    def authenticate_credentials(self, key: str) -> Any:
        if "\x00" in key:
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
