"""What every API view shares: JSON-only input that PostgreSQL can store, token-first
authentication (so an anonymous write gets 401, not 403), and the error responses in the schema."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.authentication import ApiTokenAuthentication
from catalog.models import MAX_ID, id_from_text
from catalog.storable import Unstorable, check_storable, too_deep
from recsite.api_errors import ErrorSerializer, error_body


def reject_unstorable(data: Any, path: str = "body") -> None:
    """A value PostgreSQL cannot store (``catalog.storable``) is a 400, not a 500."""
    try:
        check_storable(data, path)
    except Unstorable as exc:
        raise exceptions.ParseError(str(exc)) from None


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # nested too deep for Python's decoder (about 900 levels)
            raise exceptions.ParseError(too_deep("body")) from None
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


def unreadable_request(exc: Exception) -> exceptions.ParseError | None:
    """Django's refusals of a request it will not read (``SuspiciousOperation`` exceptions, which
    DRF's handler leaves alone: Django then answered an HTML 400, or a debug page), as a 400."""
    if isinstance(exc, RequestDataTooBig):
        return exceptions.ParseError(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.")
    if isinstance(exc, TooManyFieldsSent):
        return exceptions.ParseError(
            f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} parameters in the query string (or form body).")
    return None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400`` (DEBUG off): Django's 400s under ``/api/`` in the API's error format, for
    what fails before or outside the API's views (the schema and docs views)."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    error = unreadable_request(exception)
    message = str(error.detail) if error is not None else "The request could not be read."
    return JsonResponse(error_body(400, "parse_error", message), status=400)


class UnreadableAsJson:
    """Mixed into drf-spectacular's schema and docs views, which render YAML or HTML rather than
    the API's JSON: a request Django will not read is :func:`bad_request`'s JSON 400 with DEBUG
    on as well (it was Django's HTML debug page)."""

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if unreadable_request(exc) is not None:
            return bad_request(self.request, exc)  # type: ignore[attr-defined]
        return super().handle_exception(exc)  # type: ignore[misc]


def json_400(view: type[APIView]) -> type[APIView]:
    """``view`` with :class:`UnreadableAsJson`."""
    return type(view.__name__, (UnreadableAsJson, view), {})


class ApiMixin:
    """Mixed into every API view."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    parser_classes = [SafeJSONParser]
    schema = ApiAutoSchema()

    def handle_exception(self, exc: Exception) -> Response:
        """A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (read by ``request.data``) or a query
        string over ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` (read by content negotiation, before the
        view) is a 400 in the error format, with DEBUG on or off."""
        return super().handle_exception(unreadable_request(exc) or exc)  # type: ignore[misc]

    def check_permissions(self, request: Request) -> None:
        """A method the URL does not have is a 405 naming the ones it has (``Allow``) before any
        permission check: an anonymous POST to a read-only list was a 401, as if signing in would
        make it work."""
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):  # type: ignore[attr-defined]
            raise exceptions.MethodNotAllowed(request.method)
        super().check_permissions(request)  # type: ignore[misc]


class IdField(serializers.IntegerField):
    """A row id: a positive integer that fits PostgreSQL's bigint."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


def parse_pk(value: object) -> int:
    """A URL id, or 404 (see :func:`catalog.models.id_from_text`)."""
    pk = id_from_text(value)
    if pk is None:
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


def schema_doc_excludes() -> list[type]:
    """drf-spectacular's ``GET_LIB_DOC_EXCLUDES``: the classes whose docstrings never describe a
    schema component. Also :class:`RejectUnknownFields`, which is written for this code's readers:
    a serializer without a docstring of its own showed it to API clients as its description."""
    from drf_spectacular.plumbing import get_lib_doc_excludes

    return [*get_lib_doc_excludes(), RejectUnknownFields]


class GenreField(serializers.CharField):
    """A genre filter: a name no active film is listed under is a 400 (an empty result read as
    "nothing of that genre suits you"), naming the genre meant when only the case differs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=50, required=False, help_text="A genre, exactly as the films list it.",
                         **kwargs)

    def to_internal_value(self, data: Any) -> str:
        from catalog import selectors
        from catalog.models import Item

        value = super().to_internal_value(data)
        self.run_validators(value)  # its length and null characters before the query: the database refuses those
        if not Item.objects.active().with_genre(value).exists():
            genres = selectors.genre_list()
            meant = next((genre for genre in genres if genre.casefold() == value.casefold()), None)
            raise serializers.ValidationError(f"No film is listed under {value!r}. " + (
                f"Did you mean {meant!r}?" if meant else f"The genres: {', '.join(genres)}."))
        return value


GIVE_ONCE = "Give this parameter once."
ASCII_INTEGER = "A whole number in ASCII digits (0-9) is required."
ASCII_NUMBER = "A number in ASCII digits (0-9), with an optional decimal point, is required."
# (field class, pattern, message); the sign only so that -1 gets the range's message
_ASCII_NUMBERS: tuple[tuple[type[serializers.Field], re.Pattern[str], str], ...] = (
    (serializers.IntegerField, re.compile(r"-?[0-9]+"), ASCII_INTEGER),
    (serializers.FloatField, re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"), ASCII_NUMBER),
)


def _number_error(field: serializers.Field, value: str) -> str | None:
    """``None`` when ``value`` is not for a numeric field or is spelled in ASCII as wanted. For a
    number spelled otherwise (``٣``, a full-width 0.5, ``+5``, ``5_0``, ``5.0`` for an integer)
    what is wanted; for text that is no number at all, the field's own message."""
    for kind, pattern, message in _ASCII_NUMBERS:
        if isinstance(field, kind) and value and not pattern.fullmatch(value):
            try:
                float(value)
            except ValueError:
                return str(field.error_messages["invalid"])
            return message
    return None


class QueryParams(serializers.Serializer):
    """Base for query-string serializers: validate ``request.query_params`` or raise 400.

    A parameter given twice (``?item=50&item=51``) is a 400 naming it: the last value used to
    win silently. The parameters in ``comma_lists`` are comma-separated lists, and repeats join
    them (``?exclude=1&exclude=2`` is ``?exclude=1,2``); a list field takes every value. Integer
    parameters are ASCII digits only, as URL ids (:func:`parse_pk`): Python's ``int`` also reads
    a full-width 5 (U+FF15), ``٣``, `` 5``, ``+5`` and ``5_0``, and DRF's ``5.0``; float
    parameters likewise (``float`` reads a full-width 0.5, `` .5`` and ``0_5``). Parameters the
    serializer does not declare (``page``) are left to whoever reads them."""

    comma_lists: tuple[str, ...] = ()

    @classmethod
    def parse(cls, request: Any) -> dict[str, Any]:
        serializer = cls(data=cls.query_data(request.query_params))
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @classmethod
    def query_data(cls, query: QueryDict) -> QueryDict:
        """The declared parameters of ``query``, one value each (a ``QueryDict`` still, so a
        blank optional parameter stays "not given", as DRF reads HTML input)."""
        fields = cls().fields
        data, errors = QueryDict(mutable=True), {}
        for name in query:
            field, values = fields.get(name), query.getlist(name)
            if field is None:
                continue
            if isinstance(field, serializers.ListField | serializers.MultipleChoiceField):
                data.setlist(name, values)
            elif name in cls.comma_lists:
                data[name] = ",".join(values)
            elif len(values) > 1:
                errors[name] = [GIVE_ONCE]
            elif error := _number_error(field, values[0]):
                errors[name] = [error]
            else:
                data[name] = values[0]
        if errors:
            raise serializers.ValidationError(errors)
        return data


class YearRangeParams(QueryParams):
    """``year`` (exactly), or the ``year_min`` / ``year_max`` range: both is a 400 on ``year``
    (it meant "and" on one path and replaced the range on another); a range that ends before it
    starts is a 400 on ``year_max``."""

    year = serializers.IntegerField(min_value=0, max_value=9999, required=False,
                                    help_text="Exactly this release year; not with year_min or year_max.")
    year_min = serializers.IntegerField(min_value=0, max_value=9999, required=False)
    year_max = serializers.IntegerField(min_value=0, max_value=9999, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("year_min"), attrs.get("year_max")
        if attrs.get("year") is not None and (low is not None or high is not None):
            raise serializers.ValidationError(
                {"year": "Give year (one year), or year_min and/or year_max (a range), not both."})
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"year_max": "Must not be before year_min."})
        return attrs
