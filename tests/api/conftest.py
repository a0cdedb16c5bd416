"""API test fixtures: users A, B and staff with tokens, API clients, throttling off by default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from recsite.handlers import RecsiteWSGIHandler, get_wsgi_application

UNTHROTTLED = {"anon": "100000/s", "user": "100000/s", "login": "100000/s"}


def set_rates(rates: dict[str, str]) -> None:
    SimpleRateThrottle.THROTTLE_RATES = rates  # read when a throttle is built, i.e. per request
    cache.clear()


@pytest.fixture(autouse=True)
def _no_throttling() -> Iterator[None]:
    original = SimpleRateThrottle.THROTTLE_RATES
    set_rates(UNTHROTTLED)
    yield
    set_rates(original)


def _user(username: str, *, staff: bool = False) -> User:
    user = User.objects.create_user(username, password=f"{username}-pw-2026", is_staff=staff)
    Token.objects.create(user=user)
    return user


@pytest.fixture
def user_a(db) -> User:
    return _user("alice")


@pytest.fixture
def user_b(db) -> User:
    return _user("bob")


@pytest.fixture
def staff(db) -> User:
    return _user("stella", staff=True)


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def client_a(user_a) -> APIClient:
    return client_for(user_a)


@pytest.fixture
def client_b(user_b) -> APIClient:
    return client_for(user_b)


@pytest.fixture
def client_staff(staff) -> APIClient:
    return client_for(staff)


@pytest.fixture
def in_process_app() -> Iterator[RecsiteWSGIHandler]:
    """The WSGI application as servers run it (``recsite.wsgi``), on the test database."""
    # the WSGI handler would close the test's connection (and its transaction) after each request
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def assert_error(response, status: int, *fields: str) -> dict:
    """The one error format; ``fields`` must be named in ``error.fields``."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["status"] == status and error["code"] and error["message"], body
    for field in fields:
        assert error["fields"].get(field), (field, body)
    return error
