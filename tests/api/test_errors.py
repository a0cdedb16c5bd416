"""The one error format, and never a 500 for bad input."""

import json

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions

from recsite.api_errors import exception_handler, flatten
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


def test_events_with_nul_in_context(ml100k, client_a):
    body = json.dumps({"events": [{"item": 1, "kind": "view", "idempotency_key": "k", "context": {"a": "\x00"}}]})
    assert_error(client_a.post("/api/events/", body, content_type="application/json"), 400)


def test_unicode_is_stored(ml100k, client_staff):
    title = "Amélie — 東京物語 🎬 \u202e"
    response = client_staff.post("/api/items/", {"title": title, "genres": ["Drame"]}, format="json")
    assert response.status_code == 201 and response.json()["title"] == title


@pytest.mark.parametrize("url", ["/api/nope/", "/api/items/1.5/", "/api/items/a%2Fb/", "/api/reviews/1/x/"])
def test_unknown_api_urls_are_json_404(anon, url):
    assert_error(anon.get(url), 404)


def test_unknown_api_urls_are_json_404_for_writes_too(user_a):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user_a)
    assert_error(client.delete("/api/items/1.5/"), 404)
