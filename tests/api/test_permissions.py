"""Who may do what: anonymous, user A, user B and staff, on every endpoint. No cross-user
reads of private data, no cross-user writes."""

import pytest

from catalog.models import Item, Review
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

ROLES = ("anon", "a", "b", "staff")


@pytest.fixture
def world(ml100k, user_a, user_b, staff):
    item = Item.objects.get(slug="star-wars-1977")
    other = Item.objects.get(slug="fargo-1996")
    review_a = client_for(user_a).post("/api/reviews/", {"item": item.pk, "rating": 4, "text": "A's"},
                                       format="json").json()
    clients = {"anon": client_for(None), "a": client_for(user_a), "b": client_for(user_b),
               "staff": client_for(staff)}
    return {"item": item, "other": other, "review": review_a["id"], "clients": clients}


# (method, url template, body, expected status for anon, A (owner), B, staff)
MATRIX = [
    ("get", "/api/items/", None, (200, 200, 200, 200)),
    ("get", "/api/items/{item}/", None, (200, 200, 200, 200)),
    ("post", "/api/items/", {"title": "New"}, (401, 403, 403, 201)),
    ("patch", "/api/items/{item}/", {"price": "5.00"}, (401, 403, 403, 200)),
    ("delete", "/api/items/{other}/", None, (401, 403, 403, 204)),
    ("get", "/api/categories/", None, (200, 200, 200, 200)),
    ("get", "/api/reviews/?item={item}", None, (200, 200, 200, 200)),
    ("get", "/api/reviews/?mine=1", None, (401, 200, 200, 200)),
    ("get", "/api/reviews/{review}/", None, (200, 200, 200, 200)),
    ("post", "/api/reviews/", {"item": "{other}", "rating": 3}, (401, 201, 201, 201)),
    ("patch", "/api/reviews/{review}/", {"rating": 1}, (401, 200, 403, 403)),
    ("put", "/api/reviews/{review}/", {"rating": 1}, (401, 200, 403, 403)),
    ("delete", "/api/reviews/{review}/", None, (401, 204, 403, 403)),
    ("post", "/api/events/", {"events": [{"item": "{item}", "kind": "view", "idempotency_key": "x"}]},
     (200, 200, 200, 200)),
    ("get", "/api/search/?q=fargo", None, (200, 200, 200, 200)),
    ("get", "/api/me/", None, (401, 200, 200, 200)),
    ("patch", "/api/me/", {"profile": {"interests": "noir"}}, (401, 200, 200, 200)),
    ("get", "/api/me/export/", None, (401, 200, 200, 200)),
    ("delete", "/api/me/", None, (401, 204, 204, 204)),
    # a method the URL does not have is a 405 for everyone (anonymous was a 401: "sign in")
    ("post", "/api/categories/", {"name": "New"}, (405, 405, 405, 405)),
    ("delete", "/api/search/?q=fargo", None, (405, 405, 405, 405)),
    ("put", "/api/me/export/", {}, (405, 405, 405, 405)),
    ("post", "/api/items/{item}/", {"title": "New"}, (405, 405, 405, 405)),
]


def _fill(value, world):
    if isinstance(value, str):
        return value.format(item=world["item"].pk, other=world["other"].pk, review=world["review"])
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


def _int_ids(body):
    if isinstance(body, dict):
        return {k: int(v) if k == "item" and isinstance(v, str) else _int_ids(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_int_ids(v) for v in body]
    return body


@pytest.mark.parametrize(("method", "url", "body", "expected"), MATRIX, ids=[f"{m} {u}" for m, u, _, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_matrix(world, method, url, body, expected, role):
    client = world["clients"][role]
    kwargs = {"format": "json"} if body is not None else {}
    args = (_int_ids(_fill(body, world)),) if body is not None else ()
    response = getattr(client, method)(_fill(url, world), *args, **kwargs)
    assert response.status_code == expected[ROLES.index(role)], response.content
    if response.status_code == 405:
        assert method.upper() not in response["Allow"] and "GET" in response["Allow"]


def test_b_cannot_read_or_change_a_private_data(world, user_a):
    a, b = world["clients"]["a"], world["clients"]["b"]
    a.patch("/api/me/", {"profile": {"interests": "A's secret interests"}}, format="json")
    assert "A's secret" not in b.get("/api/me/").content.decode()
    assert "A's secret" not in b.get("/api/me/export/").content.decode()
    assert b.get("/api/me/export/").json()["reviews"] == []
    assert b.get("/api/reviews/", {"mine": 1}).json()["count"] == 0
    b.delete("/api/me/")
    assert a.get("/api/me/").json()["profile"]["interests"] == "A's secret interests"
    assert Review.objects.filter(pk=world["review"], rating=4).exists()
