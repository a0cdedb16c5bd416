"""The WSGI and ASGI entry points' request classes.

Django takes a request's charset from its ``Content-Type`` header when ``codecs.lookup`` knows
the name, and decodes the query string with it while building the request, before any
middleware or error handler runs. ``codecs`` also knows bytes-to-bytes codecs (``zlib``,
``base64``, ``rot13``...) and text codecs that fail on most input (``punycode``), so
``GET /api/items/?page=2`` with ``Content-Type: application/json; charset=zlib`` was a bare
500 on every URL (Django's own test client fails the same way). Such a charset is ignored
here, as Django ignores one it does not know: the query string and a form body decode as
``DEFAULT_CHARSET`` (DRF's parsers refuse such a charset in a JSON body with a 400 anyway).
"""

from __future__ import annotations

from typing import Any

import django
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.utils.http import parse_header_parameters


def is_usable_charset(name: str) -> bool:
    """Whether ``name`` is a text encoding that decodes any bytes when told to replace what it
    cannot (``str.encode`` refuses bytes-to-bytes codecs; ``idna``, ``punycode`` and
    ``undefined`` raise anyway)."""
    try:
        "".encode(name)
        bytes(range(256)).decode(name, "replace")
    except (LookupError, ValueError):  # UnicodeError is a ValueError
        return False
    return True


class UsableCharsetMixin:
    """Keep a request's charset only if :func:`is_usable_charset`. Nothing is decoded here:
    Django's ``encoding`` setter decodes the query string at once, so a query string Django
    refuses (too many fields) was a 500 too, instead of a 400 when a view reads it."""

    def _set_content_type_params(self, meta: Any) -> None:
        self.content_type, self.content_params = parse_header_parameters(meta.get("CONTENT_TYPE", ""))
        charset = self.content_params.get("charset", "")
        if charset and is_usable_charset(charset):
            self._encoding = charset  # nothing is decoded yet, so there is nothing to invalidate


class RecsiteWSGIRequest(UsableCharsetMixin, WSGIRequest):
    pass


class RecsiteASGIRequest(UsableCharsetMixin, ASGIRequest):
    pass


class RecsiteWSGIHandler(WSGIHandler):
    request_class = RecsiteWSGIRequest


class RecsiteASGIHandler(ASGIHandler):
    request_class = RecsiteASGIRequest


def get_wsgi_application() -> RecsiteWSGIHandler:
    """``django.core.wsgi.get_wsgi_application`` with :class:`RecsiteWSGIRequest`."""
    django.setup(set_prefix=False)
    return RecsiteWSGIHandler()


def get_asgi_application() -> RecsiteASGIHandler:
    """``django.core.asgi.get_asgi_application`` with :class:`RecsiteASGIRequest`."""
    django.setup(set_prefix=False)
    return RecsiteASGIHandler()
