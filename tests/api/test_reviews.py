"""/api/reviews/: listing, one review per user and item, only one's own changes."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from catalog import services
from catalog.models import Event, Item, Review
from tests.api.conftest import assert_error, client_for
from tests.conftest import own_connection

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


@pytest.mark.parametrize("rating", [4.25, "4.25", 3.7, "0.75"])
def test_a_rating_between_half_steps_says_so_however_it_is_written(item, client_a, rating):
    """4.25 said "Ensure that there are no more than 2 digits in total.", 3.7 the half-step rule."""
    error = assert_error(client_a.post("/api/reviews/", {"item": item.pk, "rating": rating}, format="json"),
                         400, "rating")
    assert error["fields"]["rating"] == ["Ratings go from 0.5 to 5 in half steps."]


def test_a_rating_with_a_trailing_zero_is_that_rating(item, client_a):
    review = client_a.post("/api/reviews/", {"item": item.pk, "rating": "4.50"}, format="json")
    assert review.status_code == 201 and review.json()["rating"] == 4.5
    assert client_a.patch(f"/api/reviews/{review.json()['id']}/", {"rating": "2.000"}, format="json").json()[
        "rating"] == 2.0


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
    # a misspelt key is named, not a 200 that changed nothing; the GET body can be sent back
    assert_error(client_a.patch(url, {"stars": 1}, format="json"), 400, "stars")
    assert_error(client_a.post("/api/reviews/", {"item": item.pk, "rating": 4, "txt": "x"}, format="json"), 400,
                 "txt")
    assert client_a.put(url, {**client_a.get(url).json(), "rating": 2.5}, format="json").status_code == 200
    assert_error(anon.patch(url, {"rating": 1}, format="json"), 401)
    assert_error(client_b.patch(url, {"rating": 1}, format="json"), 403)
    assert_error(client_b.delete(url), 403)
    assert Review.objects.get(pk=review["id"]).rating == 2.5
    assert client_a.delete(url).status_code == 204
    assert not Review.objects.filter(pk=review["id"]).exists()
    assert_error(client_a.delete(url), 404)


def test_a_review_deleted_meanwhile_is_not_written_again(item):
    """PATCH found the review, a DELETE committed, and the PATCH saved by user and item: it
    wrote the review again (and several such PATCHes at once failed on the unique index: 500s)."""
    deleting = threading.Event()

    def setup() -> tuple[User, Review]:
        user = User.objects.create_user("race-reviewer")
        Token.objects.create(user=user)
        return user, services.review_save(user=user, item=item, rating=4)

    def delete_and_hold(review: Review) -> None:
        with transaction.atomic():
            services.review_delete(review=review)
            deleting.set()
            time.sleep(1.0)  # meanwhile the PATCH finds the review, then waits for its row

    def patch(user: User, review_id: int) -> int:
        return client_for(user).patch(f"/api/reviews/{review_id}/", {"rating": 2}, format="json").status_code

    with ThreadPoolExecutor(2) as pool:
        user, review = pool.submit(own_connection(setup)).result()
        try:
            review_id = review.pk  # delete() sets review.pk to None
            first = pool.submit(own_connection(delete_and_hold, review))
            assert deleting.wait(30)
            second = pool.submit(own_connection(patch, user, review_id))
            first.result(60)
            assert second.result(60) == 404
            assert not pool.submit(own_connection(lambda: Review.objects.filter(user=user).exists())).result()
        finally:
            pool.submit(own_connection(lambda: User.objects.filter(username="race-reviewer").delete())).result()


def test_report_a_review_to_the_moderators(item, anon, client_a, client_b, user_a, user_b):
    from catalog.models import ReviewReport

    review = services.review_save(user=user_a, item=item, rating=1, text="Buy cheap pills at example.com")
    url = f"/api/reviews/{review.pk}/report/"
    first = client_b.post(url, {"reason": "spam"}, format="json")
    assert first.status_code == 201 and first.json()["review"] == review.pk and first.json()["reason"] == "spam"
    again = client_b.post(url, {"reason": "abuse", "note": "  and rude  "}, format="json")  # one report: changed
    assert again.status_code == 200 and (again.json()["reason"], again.json()["note"]) == ("abuse", "and rude")
    assert list(ReviewReport.objects.values_list("user__username", "reason")) == [("bob", "abuse")]
    assert_error(client_b.post(url, {"reason": "boring"}, format="json"), 400, "reason")
    assert_error(client_b.post(url, {"reason": "spam", "note": "x" * 501}, format="json"), 400, "note")
    assert_error(client_b.post(url, {"reason": "spam", "user": "alice"}, format="json"), 400, "user")
    assert_error(client_b.post(url, {}, format="json"), 400, "reason")
    assert_error(client_a.post(url, {"reason": "spam"}, format="json"), 400, "review")  # one's own
    assert_error(anon.post(url, {"reason": "spam"}, format="json"), 401)
    assert_error(client_b.get(url), 405)
    assert_error(client_b.post(f"/api/reviews/{10**9}/report/", {"reason": "spam"}, format="json"), 404)
    review.is_hidden = True  # hidden by a moderator: nothing left to report
    review.save()
    assert_error(client_b.post(url, {"reason": "spam"}, format="json"), 404)
    assert ReviewReport.objects.get().reason == "abuse"  # no bad request changed it
