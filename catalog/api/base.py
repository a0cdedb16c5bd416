"""What every API view shares: JSON-only input that PostgreSQL can store, token-first
authentication (so an anonymous write gets 401, not 403), and the error responses in the schema."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser

from catalog.api.authentication import ApiTokenAuthentication
from recsite.api_errors import ErrorSerializer

MAX_ID = 2**63 - 1  # PostgreSQL bigint


def _bad_text(value: str) -> bool:
    return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)


MAX_JSON_DEPTH = 32  # objects and arrays inside one another; no endpoint needs more than 5


def _too_deep(path: str) -> exceptions.ParseError:
    return exceptions.ParseError(f"{path}: objects and arrays nest more than {MAX_JSON_DEPTH} levels deep.")


def reject_unstorable(data: Any, path: str = "body", depth: int = 1) -> None:
    """PostgreSQL text and jsonb refuse NUL characters, lone surrogates and infinite numbers, and
    JSON nested deeper than ``MAX_JSON_DEPTH`` could be stored but not always encoded again (for
    the database, a response, a task): 400, not 500."""
    if isinstance(data, str):
        if _bad_text(data):
            raise exceptions.ParseError(f"{path}: NUL characters and lone surrogates are not allowed.")
    elif isinstance(data, float) and not math.isfinite(data):
        raise exceptions.ParseError(f"{path}: numbers must be finite.")
    elif isinstance(data, dict | list) and depth > MAX_JSON_DEPTH:
        raise _too_deep(path)
    elif isinstance(data, dict):
        for key, value in data.items():
            reject_unstorable(key, path)
            reject_unstorable(value, f"{path}.{key}", depth + 1)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            reject_unstorable(value, f"{path}.{index}", depth + 1)


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # nested too deep for Python's decoder (about 900 levels)
            raise _too_deep("body") from None
        reject_unstorable(data)
        return data


class ApiAutoSchema(AutoSchema):
    """Documents the shared error responses on every operation."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            for code in ("400", "401", "403", "404", "429"):
                responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code, direction=direction))
        return responses


class ApiMixin:
    """Mixed into every API view."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    parser_classes = [SafeJSONParser]
    schema = ApiAutoSchema()


class IdField(serializers.IntegerField):
    """A row id: a positive integer that fits PostgreSQL's bigint."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


def parse_pk(value: object) -> int:
    """A URL id, or 404 (never a database error for ``-1``, ``abc`` or ``10**30``). Only ASCII
    digits: Python's ``int`` also reads ``٣``, ``+3`` and ``3_0``, each another spelling of an
    item's URL."""
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise exceptions.NotFound()
    pk = int(text)
    if not 1 <= pk <= MAX_ID:
        raise exceptions.NotFound()
    return pk


class PkLookupMixin:
    """``get_object`` that turns a malformed or out-of-range id into 404."""

    def get_object(self) -> Any:
        lookup = self.lookup_url_kwarg or self.lookup_field  # type: ignore[attr-defined]
        self.kwargs[lookup] = parse_pk(self.kwargs[lookup])  # type: ignore[attr-defined]
        return super().get_object()  # type: ignore[misc]


class RejectUnknownFields:
    """Mixed into a serializer: a body key it does not know is a 400 naming it (a misplaced
    field silently ignored would answer 200 and change nothing). Read-only fields are known,
    so a body copied from a GET can be sent back (``read_only_keys``: more such keys)."""

    read_only_keys: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields) - set(self.read_only_keys))  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class QueryParams(serializers.Serializer):
    """Base for query-string serializers: validate ``request.query_params`` or raise 400."""

    @classmethod
    def parse(cls, request: Any) -> dict[str, Any]:
        serializer = cls(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class YearRangeParams(QueryParams):
    """``year_min`` / ``year_max`` filters; a range that ends before it starts is a 400."""

    year_min = serializers.IntegerField(min_value=0, max_value=9999, required=False)
    year_max = serializers.IntegerField(min_value=0, max_value=9999, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("year_min"), attrs.get("year_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"year_max": "Must not be before year_min."})
        return attrs
