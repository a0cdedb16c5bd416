"""/api/reviews/: listing, one review per user and item, only one's own changes."""

import pytest

from catalog.models import Event, Item, Review
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(ml100k) -> Item:
    return Item.objects.get(slug="star-wars-1977")


def test_list_by_item_and_mine(item, anon, client_a, user_a):
    body = anon.get("/api/reviews/", {"item": item.pk}).json()
    assert body["count"] == 583 and len(body["results"]) == 20
    assert {"id", "item", "user", "rating", "text", "created_at"} <= set(body["results"][0])
    assert_error(anon.get("/api/reviews/"), 400, "item")
    assert_error(anon.get("/api/reviews/", {"mine": 1}), 401)
    assert_error(anon.get("/api/reviews/", {"item": 10**9}), 400, "item")
    assert_error(anon.get("/api/reviews/", {"item": "x"}), 400, "item")
    assert client_a.get("/api/reviews/", {"mine": 1}).json()["count"] == 0
    client_a.post("/api/reviews/", {"item": item.pk, "rating": 4.5}, format="json")
    mine = client_a.get("/api/reviews/", {"mine": "true"}).json()
    assert mine["count"] == 1 and mine["results"][0]["user"] == "alice"
    assert client_a.get("/api/reviews/", {"mine": 1, "item": item.pk}).json()["count"] == 1


def test_hidden_reviews_are_never_listed(item, anon, client_a, user_a):
    review = Review.objects.filter(item=item).first()
    review.is_hidden = True
    review.save()
    ids = set()
    page = 1
    while True:
        body = anon.get("/api/reviews/", {"item": item.pk, "page": page}).json()
        ids |= {r["id"] for r in body["results"]}
        if not body["next"]:
            break
        page += 1
    assert review.pk not in ids and len(ids) == 582
    assert_error(anon.get(f"/api/reviews/{review.pk}/"), 404)
    own = client_a.post("/api/reviews/", {"item": item.pk, "rating": 3}, format="json").json()
    Review.objects.filter(pk=own["id"]).update(is_hidden=True)
    assert client_a.get("/api/reviews/", {"mine": 1}).json()["count"] == 0


def test_create_once_then_400(item, client_a, user_a):
    response = client_a.post("/api/reviews/", {"item": item.pk, "rating": "4.5", "text": "  Great!  "}, format="json")
    assert response.status_code == 201, response.content
    review = response.json()
    assert review["rating"] == 4.5 and review["text"] == "Great!" and review["user"] == "alice"
    assert Event.objects.filter(user=user_a, item=item, kind="rate", value=4.5).exists()
    again = assert_error(client_a.post("/api/reviews/", {"item": item.pk, "rating": 2}, format="json"), 400, "item")
    assert f"PATCH /api/reviews/{review['id']}/" in again["fields"]["item"][0]
    assert Review.objects.get(pk=review["id"]).rating == 4.5


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"rating": 4}, "item"),
        ({"item": 1}, "rating"),
        ({"item": 1, "rating": 4.3}, "rating"),
        ({"item": 1, "rating": 0}, "rating"),
        ({"item": 1, "rating": 5.5}, "rating"),
        ({"item": 1, "rating": "four"}, "rating"),
        ({"item": 1, "rating": 10**40}, "rating"),
        ({"item": 10**30, "rating": 4}, "item"),
        ({"item": 99999999, "rating": 4}, "item"),
        ({"item": "1", "rating": 4, "text": "x" * 5001}, "text"),
        ({"item": [1], "rating": 4}, "item"),
    ],
)
def test_create_bad_input(ml100k, client_a, payload, field):
    assert_error(client_a.post("/api/reviews/", payload, format="json"), 400, field)


def test_update_and_delete_own_only(item, anon, client_a, client_b, user_a):
    review = client_a.post("/api/reviews/", {"item": item.pk, "rating": 4}, format="json").json()
    url = f"/api/reviews/{review['id']}/"
    assert anon.get(url).json()["rating"] == 4.0
    patched = client_a.patch(url, {"text": "Changed my mind"}, format="json")
    assert patched.status_code == 200 and patched.json()["rating"] == 4.0
    assert patched.json()["text"] == "Changed my mind"
    assert client_a.put(url, {"rating": 2.5}, format="json").json()["rating"] == 2.5
    assert_error(client_a.put(url, {"text": "no rating"}, format="json"), 400, "rating")
    assert_error(client_a.patch(url, {"rating": 7}, format="json"), 400, "rating")
    assert_error(anon.patch(url, {"rating": 1}, format="json"), 401)
    assert_error(client_b.patch(url, {"rating": 1}, format="json"), 403)
    assert_error(client_b.delete(url), 403)
    assert Review.objects.get(pk=review["id"]).rating == 2.5
    assert client_a.delete(url).status_code == 204
    assert not Review.objects.filter(pk=review["id"]).exists()
    assert_error(client_a.delete(url), 404)
