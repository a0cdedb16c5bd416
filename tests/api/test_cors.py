"""CORS headers: only on /api/, only for the origins in API_CORS_ORIGINS (tests/e2e/test_cors.py
has a browser make the calls)."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.api.conftest import set_rates

APP = "https://shop.example.com"


def test_preflight_and_calls_from_an_allowed_origin_get_the_headers_others_none(settings, db):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    client = APIClient()
    preflight = client.options("/api/items/", HTTP_ORIGIN=APP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization")
    assert preflight.status_code == 200 and preflight["Access-Control-Allow-Origin"] == APP
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    assert preflight["Access-Control-Max-Age"] == "3600"
    assert "Access-Control-Allow-Credentials" not in preflight  # cookies are not shared cross-site
    assert client.get("/api/items/", HTTP_ORIGIN=APP)["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Origin" not in client.get("/api/items/", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in client.get("/", HTTP_ORIGIN=APP)  # the storefront is not an API


def test_a_throttled_app_can_read_how_long_to_wait(settings, db):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    set_rates({"anon": "1/min", "user": "100000/s", "login": "100000/s"})
    client = APIClient()
    assert client.get("/api/items/", HTTP_ORIGIN=APP).status_code == 200
    throttled = client.get("/api/items/", HTTP_ORIGIN=APP)
    assert throttled.status_code == 429 and throttled["Access-Control-Allow-Origin"] == APP
    assert throttled["Access-Control-Expose-Headers"] == "Retry-After" and int(throttled["Retry-After"]) > 0
