"""The OpenAPI schema validates, Swagger UI loads from local assets, throttling works."""

import inspect
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from catalog.api.base import RejectUnknownFields
from tests.api.conftest import assert_error, set_rates


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/items/", "/api/items/{id}/", "/api/categories/", "/api/reviews/", "/api/reviews/{id}/",
                 "/api/events/", "/api/search/", "/api/me/", "/api/me/export/", "/api/auth/token/"):
        assert f"  {path}:" in text, path


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_says_what_anonymous_clients_may_call():
    """Swagger UI and generated clients read ``security``: an operation without ``{}`` needs
    credentials. The items' reads said so, though anyone may read the catalogue."""
    operations = {(path, method): op.get("security", []) for path, ops in _schema()["paths"].items()
                  for method, op in ops.items()}
    for path in ("/api/items/", "/api/items/{id}/", "/api/items/{id}/similar/", "/api/items/{id}/also-liked/",
                 "/api/categories/", "/api/reviews/", "/api/search/", "/api/recommendations/", "/api/cart/"):
        assert {} in operations[path, "get"], path
    for path, method in (("/api/items/", "post"), ("/api/items/{id}/", "patch"), ("/api/items/{id}/", "delete"),
                         ("/api/items/{id}/predicted-rating/", "get"), ("/api/reviews/", "post"), ("/api/me/", "get")):
        assert {} not in operations[path, method], (path, method)


def test_schema_components_are_not_described_by_internal_mixins():
    """A request serializer without a docstring of its own was described, in Swagger UI, by its
    mixin's note for this code's readers ("Mixed into a serializer: ...")."""
    internal = inspect.cleandoc(RejectUnknownFields.__doc__ or "")
    described = {name: component.get("description", "") for name, component in
                 _schema()["components"]["schemas"].items()}
    assert "TokenRequestRequest" in described and "EventInRequest" in described
    assert not [name for name, text in described.items() if internal in text]
    assert described["ItemWriteRequest"].startswith("Staff input")  # a serializer's own docstring stays


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "wanted"), [("/api/docs/", ["swagger-ui-bundle.js", "swagger-ui.css"]),
                                             ("/api/redoc/", ["redoc.standalone.js"])])
def test_the_api_docs_are_served_locally(client, url, wanted):
    """Swagger UI and ReDoc work offline: every script, style and font from this server (ReDoc's
    stock page also loaded Google's fonts)."""
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)", html), "CDN URL in the docs page"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(any(name in a for a in assets) for name in wanted), assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body, asset
    assert client.get("/api/schema/").status_code == 200


@pytest.mark.django_db
def test_throttling(anon, client_a):
    set_rates({"anon": "3/min", "user": "4/min", "login": "2/min"})
    for _ in range(3):
        assert anon.get("/api/categories/").status_code == 200
    throttled = assert_error(anon.get("/api/categories/"), 429)
    assert "throttled" in throttled["code"] and anon.get("/api/categories/")["Retry-After"]
    for _ in range(4):
        assert client_a.get("/api/me/").status_code == 200
    assert_error(client_a.get("/api/me/"), 429)


@pytest.mark.django_db
def test_login_is_throttled(anon, user_a):
    set_rates({"anon": "1000/min", "user": "1000/min", "login": "2/min"})
    for n in range(2):  # a made-up X-Forwarded-For per attempt does not make a new client
        wrong = anon.post("/api/auth/token/", {"username": "alice", "password": "guess"}, format="json",
                          HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert_error(wrong, 400)
    right = anon.post("/api/auth/token/", {"username": "alice", "password": "alice-pw-2026"}, format="json",
                      HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert_error(right, 429)
    assert User.objects.filter(username="alice").exists()
