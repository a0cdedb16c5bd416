"""One error format for the whole API (see docs/API.md).

Every error response is ``{"error": {"status", "code", "message", "fields"}}``; ``fields``
maps a field (dotted for nested data: ``events.2.item``) to its messages and is empty when the
error is not about the input. Services raise Django exceptions; they are mapped here:
``ValidationError`` -> 400, ``Http404``/``DoesNotExist`` -> 404, ``PermissionDenied`` -> 403.
"""

from __future__ import annotations

from typing import Any

from django.core import exceptions as django_exceptions
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

NON_FIELD = "non_field_errors"


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    error = ErrorBodySerializer()


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF error detail (nested dicts and lists) -> ``{"a.0.b": ["message", ...]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = NON_FIELD if key == django_exceptions.NON_FIELD_ERRORS else str(key)
            if name == NON_FIELD and prefix:  # {"profile": {"non_field_errors": [...]}} -> "profile"
                out.update(flatten(value, prefix))
            else:
                out.update(flatten(value, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            return {prefix or NON_FIELD: [str(v) for v in detail]} if detail else {}
        out = {}
        for index, value in enumerate(detail):
            out.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or NON_FIELD: [str(detail)]}


def to_drf(exc: Exception) -> Exception:
    """Map the Django (and database) exceptions services raise to DRF's."""
    if isinstance(exc, django_exceptions.ValidationError):
        detail: Any = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        return exceptions.ValidationError(detail)
    if isinstance(exc, Http404 | django_exceptions.ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, django_exceptions.PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DataError):  # last line of defence: a value PostgreSQL refused
        return exceptions.ValidationError({NON_FIELD: ["A value is out of range or not allowed."]})
    return exc


def error_body(status_code: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"status": status_code, "code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = to_drf(exc)
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django answer 500 and log it
    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten(exc.detail)
        first = next(iter(fields.items()), None)
        message = f"{first[0]}: {first[1][0]}" if first and first[0] != NON_FIELD else (
            first[1][0] if first else "Invalid input."
        )
        body = error_body(status.HTTP_400_BAD_REQUEST, "invalid", message, fields)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = error_body(exc.status_code, str(code), str(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)
