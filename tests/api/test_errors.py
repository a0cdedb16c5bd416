"""The one error format, and never a 500 for bad input."""

import io
import json

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions

from catalog.models import Event, Item
from catalog.storable import MAX_JSON_DEPTH
from recsite.api_errors import exception_handler, flatten
from recsite.handlers import RecsiteWSGIRequest
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_django_validation_error_maps_to_400_with_fields():
    response = exception_handler(DjangoValidationError({"rating": ["Ratings go from 0.5 to 5."]}), {})
    assert response.status_code == 400
    assert response.data == {"error": {"status": 400, "code": "invalid", "message": "rating: Ratings go from 0.5 to 5.",
                                       "fields": {"rating": ["Ratings go from 0.5 to 5."]}}}
    plain = exception_handler(DjangoValidationError("Nope."), {})
    assert plain.data["error"]["fields"] == {"non_field_errors": ["Nope."]}


def test_not_found_and_permission_map():
    from django.contrib.auth.models import User
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    assert exception_handler(Http404(), {}).status_code == 404
    assert exception_handler(User.DoesNotExist(), {}).status_code == 404
    assert exception_handler(PermissionDenied(), {}).data["error"]["code"] == "permission_denied"
    throttled = exception_handler(exceptions.Throttled(wait=12), {})
    assert throttled.status_code == 429 and throttled["Retry-After"] == "12"
    assert exception_handler(ValueError("bug"), {}) is None  # real bugs stay 500s


def test_flatten_nested():
    assert flatten({"events": [{}, {"item": ["bad"]}], "profile": {"non_field_errors": ["x"]}}) == {
        "events.1.item": ["bad"], "profile": ["x"]}


@pytest.mark.parametrize(
    "raw",
    [
        '{"item": 1, "rating": 4, "text": "nul \\u0000 here"}',
        '{"item": 1, "rating": 4, "text": "lone \\ud800 surrogate"}',
        '{"item": 1, "rating": 4, "text\\u0000": "key"}',
        '{"item": 1, "rating": 1e999}',
        '{"item": 1, "rating": NaN}',
        '{"item": 1, "rating": 4, "text": "x"',
        '[1, 2, 3]',
        '"just a string"',
        'null',
    ],
)
def test_odd_json_bodies(ml100k, client_a, raw):
    response = client_a.post("/api/reviews/", raw, content_type="application/json")
    assert_error(response, 400)


@pytest.mark.parametrize("url", [
    "/api/items/?genre=%00", "/api/items/?q=%00", "/api/items/?year=1e5", "/api/items/?year=%F0%9F%8E%AC",
    "/api/items/?page=-1", "/api/items/?page=99999999999999999999", "/api/reviews/?item=%00",
    "/api/reviews/?item=1&mine=maybe", "/api/search/?q=%ED%A0%80", "/api/search/?q=a&year_min=-5",
])
def test_odd_query_strings(ml100k, anon, url):
    response = anon.get(url)
    assert response.status_code in (200, 400, 404), response.content
    if response.status_code != 200:
        assert_error(response, response.status_code)


@pytest.mark.parametrize("url", [
    "/api/items/?genre=Dra%00ma", "/api/search/?q=space&genre=Dra%00ma", "/api/recommendations/?genre=Dra%00ma",
])
def test_a_null_character_in_a_genre_is_400_on_genre(ml100k, anon, url):
    """It was a 400 naming no field ("A value is out of range"): the database refused the value."""
    assert_error(anon.get(url), 400, "genre")


@pytest.mark.parametrize("url", [
    "/api/items/?page=abc", "/api/items/?page=0", "/api/items/?page=-1", "/api/items/?page=1.5",
    "/api/items/?genre=Drama&page=%C2%B2", "/api/categories/?page=x", "/api/reviews/?item=1&page=1e3",
    "/api/items/?page=1&page=2",
])
def test_a_malformed_page_is_400_on_page(ml100k, anon, url):
    """It was a 404 'Invalid page.', as if the list did not exist."""
    assert_error(anon.get(url), 400, "page")


def test_a_page_past_the_end_is_404(ml100k, anon):
    assert anon.get("/api/items/?page=last").status_code == 200
    for page in ("99999", "99999999999999999999"):
        assert_error(anon.get(f"/api/items/?page={page}"), 404)


def test_events_with_nul_in_context(ml100k, client_a):
    body = json.dumps({"events": [{"item": 1, "kind": "view", "idempotency_key": "k", "context": {"a": "\x00"}}]})
    assert_error(client_a.post("/api/events/", body, content_type="application/json"), 400)


def _nested(depth: int) -> str:
    """A JSON object ``depth`` levels deep."""
    return '{"a": ' * depth + "1" + "}" * depth


# just over the limit; deep enough that storing or encoding it again overflowed Python's stack
# (a 500 on the INSERT); too deep for Python's JSON decoder (a RecursionError, a 500 on parsing)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 930, 100_000])
def test_deeply_nested_bodies_are_400(ml100k, client_staff, depth):
    item = f'{{"title": "Deep {depth}", "attributes": {_nested(depth)}}}'  # the body is one level more
    error = assert_error(client_staff.post("/api/items/", item, content_type="application/json"), 400)
    assert error["code"] == "parse_error" and f"more than {MAX_JSON_DEPTH} levels" in error["message"]
    assert not Item.objects.filter(title=f"Deep {depth}").exists()

    event = f'{{"item": 1, "kind": "view", "idempotency_key": "deep", "context": {_nested(depth)}}}'
    events = f'{{"events": [{event}]}}'
    assert_error(client_staff.post("/api/events/", events, content_type="application/json"), 400)
    assert not Event.objects.filter(idempotency_key__endswith=":deep").exists()


def test_nesting_up_to_the_limit_is_stored(ml100k, client_staff):
    body = f'{{"title": "Deep but fine", "attributes": {_nested(MAX_JSON_DEPTH - 1)}}}'
    response = client_staff.post("/api/items/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert client_staff.get(f"/api/items/{response.json()['id']}/").json()["attributes"] == json.loads(
        _nested(MAX_JSON_DEPTH - 1))


def _environ(query: str, content_type: str) -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/items/", "QUERY_STRING": query,
            "CONTENT_TYPE": content_type, "SERVER_NAME": "testserver", "SERVER_PORT": "80",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"")}


# Django decoded the query string with whatever codecs.lookup knows while building the request,
# before any middleware: a bare 500 on every URL with a query string (its test client fails too)
@pytest.mark.parametrize("charset", ["zlib", "rot13", "base64", "punycode", "idna", "undefined", "no-such"])
def test_unusable_request_charsets_are_ignored(in_process_app, charset):
    statuses = []
    environ = _environ("year=abc&genre=caf%C3%A9", f"application/json; charset={charset}")
    body = b"".join(in_process_app(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["400 Bad Request"], body
    assert json.loads(body)["error"]["fields"] == {"year": ["A valid integer is required."]}


def test_usable_request_charsets_still_decode_the_query_string():
    request = RecsiteWSGIRequest(_environ("genre=caf%E9", "application/json; charset=latin-1"))
    assert request.encoding == "latin-1" and request.GET["genre"] == "café"


def test_a_token_with_a_nul_is_401(anon):
    """It was looked up, and PostgreSQL's refusal came back as a 400 'value out of range'."""
    error = assert_error(anon.get("/api/me/", HTTP_AUTHORIZATION="Token 9944b09199c62bcf\x00"), 401)
    assert error["code"] == "authentication_failed"


def test_a_session_cookie_no_key_can_be_is_no_session(ml100k, anon):
    """It was looked up: a 400 'value out of range' from the API, a 500 on storefront pages."""
    cookie = {"HTTP_COOKIE": "sessionid=abcdefgh\x00ijk"}
    assert_error(anon.get("/api/me/", **cookie), 401)
    assert anon.get("/", **cookie).status_code == 200
    batch = {"events": [{"item": 1, "kind": "view", "idempotency_key": "nul-cookie"}]}
    assert anon.post("/api/events/", batch, format="json", **cookie).status_code == 200
    event = Event.objects.get(idempotency_key__endswith=":nul-cookie")  # in a new session
    assert event.session_key == anon.cookies["sessionid"].value and event.session_key.isalnum()


def test_unicode_is_stored(ml100k, client_staff):
    title = "Amélie — 東京物語 🎬 \u202e"
    response = client_staff.post("/api/items/", {"title": title, "genres": ["Drame"]}, format="json")
    assert response.status_code == 201 and response.json()["title"] == title


@pytest.mark.parametrize("url", ["/api/nope/", "/api/items/1.5/", "/api/items/a%2Fb/", "/api/reviews/1/x/"])
def test_unknown_api_urls_are_json_404(anon, url):
    assert_error(anon.get(url), 404)


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_url_without_its_trailing_slash_is_a_404_naming_the_endpoint(anon, method):
    """``/api/items`` was "No such API endpoint.", as for a URL that is nothing at all."""
    for url in ("/api/items", "/api/events", "/api/items/50", "/api/me/history/50"):
        assert assert_error(getattr(anon, method)(url), 404)["message"].endswith(f"end with a slash: {url}/")
    assert assert_error(getattr(anon, method)("/api/nope"), 404)["message"] == "No such API endpoint."


def test_unknown_api_urls_are_json_404_for_writes_too(user_a):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user_a)
    assert_error(client.delete("/api/items/1.5/"), 404)


@pytest.mark.parametrize("debug", [False, True])
def test_an_oversized_body_is_a_json_400(ml100k, client_a, settings, debug):
    """Over DATA_UPLOAD_MAX_MEMORY_SIZE Django raises RequestDataTooBig from ``request.body``,
    which passed DRF's handler: an HTML 400 (a debug page with DEBUG on)."""
    settings.DEBUG = debug
    event = {"item": Item.objects.order_by("pk").first().pk, "kind": "view", "idempotency_key": "big",
             "context": {"a": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}}
    error = assert_error(client_a.post("/api/events/", {"events": [event]}, format="json"), 400)
    assert error["code"] == "parse_error" and "bytes" in error["message"]
    assert not Event.objects.filter(idempotency_key__endswith=":big").exists()


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("url", ["/api/items/", "/api/search/suggest/", "/api/recommendations/"])
def test_too_many_query_parameters_are_a_json_400(ml100k, anon, settings, debug, url):
    """Over DATA_UPLOAD_MAX_NUMBER_FIELDS Django raises TooManyFieldsSent when ``request.GET``
    is first read (DRF's content negotiation): an HTML 400, or plain text."""
    settings.DEBUG = debug
    query = "&".join(f"genre={n}" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    error = assert_error(anon.get(f"{url}?{query}"), 400)
    assert error["code"] == "parse_error" and "parameters" in error["message"]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_too_many_query_parameters_for_the_schema_and_docs_are_a_json_400(db, anon, settings, debug, url):
    """The schema and docs views are drf-spectacular's, not the API's (they render YAML or HTML):
    Django's handler400 answered with DEBUG off, its HTML debug page with DEBUG on."""
    settings.DEBUG = debug
    query = "&".join(f"a={n}" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    error = assert_error(anon.get(f"{url}?{query}"), 400)
    assert error["code"] == "parse_error" and "parameters" in error["message"]
    assert anon.get(url).status_code == 200


@pytest.mark.parametrize(("url", "field"), [
    ("/api/reviews/?item=50&item=51", "item"),
    ("/api/search/suggest/?q=star&q=fargo", "q"),
    ("/api/search/suggest/?q=star&k=5&k=6", "k"),
    ("/api/items/?year=1977&year=1978", "year"),
    ("/api/items/?genre=Drama&genre=Comedy", "genre"),
    ("/api/reviews/?mine=1&mine=0", "mine"),
])
def test_a_parameter_given_twice_is_400(ml100k, client_a, url, field):
    """Only the last value was used (``?item=50&item=51`` listed item 51's reviews)."""
    error = assert_error(client_a.get(url), 400, field)
    assert error["fields"][field] == ["Give this parameter once."]


def test_repeated_list_parameters_are_joined():
    from django.http import QueryDict

    from recommender.api.serializers import RecommendationParams

    class Request:
        query_params = QueryDict("exclude=100&exclude=181,182&exclude=&k=3")

    params = RecommendationParams.parse(Request())
    assert params["exclude"] == [100, 181, 182] and params["k"] == 3


@pytest.mark.parametrize(("url", "field"), [
    ("/api/search/suggest/?q=st&k=%EF%BC%95", "k"),  # full-width 5
    ("/api/search/suggest/?q=st&k=%D9%A3", "k"),  # Arabic-Indic 3
    ("/api/items/?year=%EF%BC%91%EF%BC%99%EF%BC%97%EF%BC%97", "year"),
    ("/api/items/?year_min=+1977", "year_min"),
    ("/api/items/?year_max=1_977", "year_max"),
    ("/api/items/?year_max=1977.0", "year_max"),
    ("/api/reviews/?item=%EF%BC%95%EF%BC%90", "item"),
    ("/api/recommendations/?k=%EF%BC%95", "k"),
])
def test_integer_parameters_are_ascii_digits(ml100k, anon, url, field):
    """Python's int() reads a full-width 5 and '٣' as 5 and 3; ids in URLs (parse_pk) already refused them."""
    assert_error(anon.get(url), 400, field)


@pytest.mark.parametrize("value", ["%EF%BC%90.%EF%BC%95", "%D9%A0.%D9%A5", "0_5", "+0.5", "%200.5", "nan"])
def test_float_parameters_are_ascii_digits(ml100k, anon, value):
    """Python's float() reads a full-width and an Arabic-Indic 0.5 as 0.5, as int() did."""
    error = assert_error(anon.get(f"/api/recommendations/?diversity={value}"), 400, "diversity")
    assert error["fields"]["diversity"] == [
        "A number in ASCII digits (0-9), with an optional decimal point, is required."]


@pytest.mark.parametrize(("value", "expected"), [("0.5", 0.5), (".5", 0.5), ("1", 1.0), ("5e-1", 0.5), ("0.", 0.0)])
def test_ascii_float_parameters_are_read(value, expected):
    from django.http import QueryDict

    from recommender.api.serializers import RecommendationParams

    class Request:
        query_params = QueryDict(f"diversity={value}")

    assert RecommendationParams.parse(Request())["diversity"] == expected


def test_a_float_parameter_that_is_no_number_keeps_the_fields_message():
    from django.http import QueryDict

    from recommender.api.serializers import RecommendationParams

    with pytest.raises(exceptions.ValidationError) as raised:
        RecommendationParams.query_data(QueryDict("diversity=lots"))
    assert raised.value.detail == {"diversity": ["A valid number is required."]}


@pytest.mark.parametrize("url", ["/api/items/", "/api/search/?q=cowboys", "/api/recommendations/"])
def test_a_genre_no_film_is_listed_under_is_a_400_not_an_empty_list(ml100k, anon, url):
    sep = "&" if "?" in url else "?"
    lower = assert_error(anon.get(f"{url}{sep}genre=western"), 400, "genre")
    assert lower["fields"]["genre"] == ["No film is listed under 'western'. Did you mean 'Western'?"]
    unknown = assert_error(anon.get(f"{url}{sep}genre=Cowboy"), 400, "genre")
    assert "The genres: Action, Adventure, Animation" in unknown["fields"]["genre"][0]
    assert anon.get(f"{url}{sep}genre=Western").status_code == 200
