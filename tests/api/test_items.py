"""/api/items/ and /api/categories/ on MovieLens-100K."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from catalog import services
from catalog.models import Category, Item, Review
from tests.api.conftest import assert_error, client_for
from tests.conftest import own_connection

pytestmark = pytest.mark.django_db


def test_list_is_paginated_with_ratings(ml100k, anon):
    body = anon.get("/api/items/").json()
    assert body["count"] == 1682 and len(body["results"]) == 20 and body["next"]
    first = body["results"][0]
    assert {"id", "title", "genres", "year", "avg_rating", "review_count", "category"} <= set(first)
    star_wars = anon.get(f"/api/items/{Item.objects.get(slug='star-wars-1977').pk}/").json()
    assert star_wars["review_count"] == 583 and 4 < star_wars["avg_rating"] < 5
    assert anon.get("/api/items/", {"page": 2}).json()["results"][0]["id"] != first["id"]
    assert_error(anon.get("/api/items/", {"page": 10_000}), 404)


def test_filters(ml100k, anon):
    noir = anon.get("/api/items/", {"genre": "Film-Noir"}).json()
    assert 0 < noir["count"] < 100
    assert all("Film-Noir" in item["genres"] for item in noir["results"])
    years = anon.get("/api/items/", {"year_min": 1990, "year_max": 1991}).json()
    assert years["count"] > 0 and all(1990 <= item["year"] <= 1991 for item in years["results"])
    exact = anon.get("/api/items/", {"year": 1977}).json()
    assert exact["count"] > 0 and all(item["year"] == 1977 for item in exact["results"])
    assert_error(anon.get("/api/items/", {"year": "nineteen"}), 400, "year")
    assert_error(anon.get("/api/items/", {"year_min": 10**30}), 400, "year_min")
    assert_error(anon.get("/api/items/", {"year_min": 2000, "year_max": 1990}), 400, "year_max")
    assert_error(anon.get("/api/search/", {"q": "war", "year_min": 2000, "year_max": 1990}), 400, "year_max")


def test_sorts_are_the_browse_pages(ml100k, anon, client):
    for sort in ("popular", "rating", "newest", "title"):
        api = [item["id"] for item in anon.get("/api/items/", {"sort": sort, "genre": "Western"}).json()["results"]]
        page = [item.pk for item in client.get("/browse/Western/", {"sort": sort}).context["page"]][:20]
        assert api == page, sort
    popular = anon.get("/api/items/", {"sort": "popular"}).json()["results"]
    counts = [item["review_count"] for item in popular]
    assert counts == sorted(counts, reverse=True) and popular[0]["title"] == "Star Wars"
    assert_error(anon.get("/api/items/", {"sort": "price"}), 400, "sort")
    assert_error(anon.get("/api/items/", {"sort": "rating", "q": "star"}), 400, "sort")


def test_hidden_reviews_count_nowhere(ml100k, anon):
    from catalog.models import Review

    item = Item.objects.get(slug="star-wars-1977")
    Review.objects.filter(pk__in=item.reviews.order_by("pk").values("pk")[:3]).update(is_hidden=True)
    assert anon.get(f"/api/items/{item.pk}/").json()["review_count"] == 580


def test_text_query_uses_hybrid_search(ml100k, anon):
    body = anon.get("/api/items/", {"q": "star wars"}).json()
    assert body["count"] > 0
    assert body["results"][0]["title"].startswith("Star Wars")
    noir = anon.get("/api/items/", {"q": "detective", "genre": "Film-Noir"}).json()
    assert all("Film-Noir" in item["genres"] for item in noir["results"])
    assert_error(anon.get("/api/items/", {"q": "x" * 301}), 400, "q")


def test_detail_and_unknown_ids(ml100k, anon):
    item = Item.objects.get(slug="star-wars-1977")
    detail = anon.get(f"/api/items/{item.pk}/").json()
    assert detail["title"] == "Star Wars"
    # the page's rating histogram: ML-100K's 583 ratings of Star Wars, 5 stars down to 1
    bars = detail["rating_histogram"]
    assert [b["stars"] for b in bars] == [5, 4, 3, 2, 1] and sum(b["count"] for b in bars) == 583
    assert bars[0]["count"] == Review.objects.filter(item=item, rating=5).count() == 325
    assert sum(b["share"] for b in bars) == pytest.approx(1, abs=1e-3)
    assert "rating_histogram" not in anon.get("/api/items/").json()["results"][0]  # the detail only
    # other spellings of an id that Python's int() reads (Arabic-Indic and full-width digits,
    # a sign, an underscore) are not the item's URL either
    for bad in ("999999999", "0", "-1", "abc", str(10**30), "٥٠", "５０", "+50", "5_0"):
        assert_error(anon.get(f"/api/items/{bad}/"), 404)


def test_staff_creates_updates_and_deactivates(ml100k, client_staff, client_a, anon):
    payload = {"title": "Brand New Movie", "year": 2026, "genres": ["Drama"], "price": "4.50",
               "attributes": {"runtime": 101}}
    assert_error(anon.post("/api/items/", payload, format="json"), 401)
    assert_error(client_a.post("/api/items/", payload, format="json"), 403)
    created = client_staff.post("/api/items/", payload, format="json")
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["slug"] == "brand-new-movie-2026" and item["price"] == 4.5 and item["is_active"]
    url = f"/api/items/{item['id']}/"
    assert_error(client_a.patch(url, {"title": "Hacked"}, format="json"), 403)
    patched = client_staff.patch(url, {"title": "Brand New Movie II", "year": None}, format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "Brand New Movie II"
    assert_error(client_staff.patch(url, {"year": 1500, "price": "-1"}, format="json"), 400, "year", "price")
    put = client_staff.put(url, {"title": "Put Movie"}, format="json")
    assert put.status_code == 200 and put.json()["title"] == "Put Movie"
    assert_error(client_a.delete(url), 403)
    assert client_staff.delete(url).status_code == 204
    assert Item.objects.get(pk=item["id"]).is_active is False  # deactivated, not deleted
    assert_error(anon.get(url), 404)
    assert client_staff.get(url).json()["is_active"] is False
    assert client_staff.patch(url, {"is_active": True}, format="json").json()["is_active"] is True


def test_long_titles_get_an_external_id_that_fits(ml100k, client_staff):
    """The generated ``local:<slug>`` ran past external_id's 100 characters from a 95-character
    title: a 400 on external_id, a field the client never sent."""
    title = "A Very Long Title of a Film That Goes On " * 7  # 287 characters, under title's 300
    ids = []
    for suffix in ("", " Part Two"):
        response = client_staff.post("/api/items/", {"title": title + suffix, "year": 2026}, format="json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["external_id"])
    assert all(i.startswith("local:a-very-long-title") and len(i) <= 100 for i in ids) and len(set(ids)) == 2


def test_a_double_submit_creates_two_items_not_a_500():
    """Two creates of one title at once: the second checked the slug before the first committed,
    then its insert failed on the unique slug (a 500). Now it takes the next free slug."""
    first_saved = threading.Event()

    def setup() -> User:
        staff = User.objects.create_user("race-staff", is_staff=True)
        Token.objects.create(user=staff)
        return staff

    def create_and_hold() -> None:
        with transaction.atomic():
            services.item_create(title="Double Submit", year=2031)
            first_saved.set()
            time.sleep(1.0)  # meanwhile the API's create finds the slug free, then waits on the insert

    def create_through_the_api(staff: User) -> tuple[int, dict]:
        response = client_for(staff).post("/api/items/", {"title": "Double Submit", "year": 2031}, format="json")
        return response.status_code, response.json()

    with ThreadPoolExecutor(6) as pool:
        staff = pool.submit(own_connection(setup)).result()
        try:
            first = pool.submit(own_connection(create_and_hold))
            assert first_saved.wait(30)
            second = pool.submit(own_connection(create_through_the_api, staff))
            first.result(60)
            status, body = second.result(60)
            assert status == 201 and body["slug"] == "double-submit-2031-2", body
            # six at once (a 500, or a 400 on the slug when it was taken between check and clean)
            burst = [pool.submit(own_connection(create_through_the_api, staff)) for _ in range(6)]
            results = [future.result(60) for future in burst]
            assert [status for status, _ in results] == [201] * 6, results
            assert len({body["slug"] for _, body in results}) == 6
        finally:
            pool.submit(own_connection(lambda: (Item.objects.filter(title="Double Submit").delete(),
                                                User.objects.filter(username="race-staff").delete()))).result()


def test_item_write_validation(ml100k, client_staff):
    assert_error(client_staff.post("/api/items/", {}, format="json"), 400, "title")
    dup = client_staff.post("/api/items/", {"title": "Dup", "external_id": Item.objects.first().external_id},
                            format="json")
    assert_error(dup, 400, "external_id")
    assert_error(client_staff.post("/api/items/", {"title": "x", "genres": "Drama"}, format="json"), 400, "genres")
    assert_error(client_staff.post("/api/items/", {"title": "x", "category": 10**12}, format="json"), 400, "category")
    assert_error(client_staff.post("/api/items/", {"title": "x", "price": "1e400"}, format="json"), 400, "price")
    # a misspelt key is named, not a 200 that changed nothing; GET's read-only keys are ignored
    item = Item.objects.active().first()
    url = f"/api/items/{item.pk}/"
    assert_error(client_staff.patch(url, {"titel": "Renamed"}, format="json"), 400, "titel")
    assert_error(client_staff.post("/api/items/", {"title": "x", "genre": ["Drama"]}, format="json"), 400, "genre")
    body = {**client_staff.get(url).json(), "category": None, "title": "Renamed"}
    assert client_staff.put(url, body, format="json").json()["title"] == "Renamed"


def test_categories(db, anon, client_a):
    category = Category.objects.create(name="Movies", slug="movies")
    body = anon.get("/api/categories/").json()
    assert body["count"] >= 1 and "movies" in [c["slug"] for c in body["results"]]
    assert anon.get(f"/api/categories/{category.pk}/").json()["name"] == "Movies"
    assert_error(anon.get("/api/categories/424242/"), 404)
    assert_error(client_a.post("/api/categories/", {"name": "x"}, format="json"), 405)


@pytest.mark.parametrize("params", [{"year": 1977, "year_min": 1990}, {"year": 1977, "year_max": 1970},
                                    {"q": "star", "year": 1977, "year_min": 1990}])
def test_year_is_not_combined_with_a_range(ml100k, anon, params):
    """``year`` with a range meant AND without ``q`` (0 results) and replaced the range with it."""
    error = assert_error(anon.get("/api/items/", params), 400, "year")
    assert "year_min" in error["fields"]["year"][0]
    assert_error(anon.get("/api/search/", params if "q" in params else {**params, "q": "star"}), 400, "year")


IMPORT = "/api/items/import/"


def test_staff_sync_a_catalogue_in_one_request(db, client_staff, client_a, anon):
    items = [
        {"item_id": "K1", "title": "Lighthouse Keepers", "year": 2021, "genres": ["Documentary", 'Rock "n" Roll\\'],
         "description": "Two keepers and a storm.", "price": "14.99", "image_url": "https://img.example.com/k1.jpg"},
        {"item_id": "K2", "title": "Harbour Lights"},
    ]
    assert anon.post(IMPORT, {"namespace": "shop", "items": items}, format="json").status_code == 401
    assert_error(client_a.post(IMPORT, {"namespace": "shop", "items": items}, format="json"), 403)
    first = client_staff.post(IMPORT, {"namespace": "shop", "items": items}, format="json")
    assert first.status_code == 200 and first.json() == {"created": 2, "updated": 0, "unchanged": 0}
    keepers = Item.objects.get(external_id="shop:K1")
    assert (keepers.year, keepers.genres, str(keepers.price), keepers.image_url) == (
        2021, ["Documentary", 'Rock "n" Roll\\'], "14.99", "https://img.example.com/k1.jpg")
    assert str(Item.objects.get(external_id="shop:K2").price) == "9.99"
    again = client_staff.post(IMPORT, {"namespace": "shop", "items": items}, format="json").json()
    assert again == {"created": 0, "updated": 0, "unchanged": 2}
    changed = [{"item_id": "K1", "title": "Lighthouse Keepers", "price": "12.00"}]
    assert client_staff.post(IMPORT, {"namespace": "shop", "items": changed}, format="json").json() == {
        "created": 0, "updated": 1, "unchanged": 0}
    keepers.refresh_from_db()
    assert (str(keepers.price), keepers.description, keepers.genres) == (
        "12.00", "Two keepers and a storm.", ["Documentary", 'Rock "n" Roll\\'])  # not sent: kept


@pytest.mark.parametrize(("body", "field"), [
    ({"namespace": "shop", "items": [{"item_id": "K1", "title": "A"}, {"item_id": "K2", "title": "B", "price": "-1"}]},
     "items.1.price"),
    ({"namespace": "shop", "items": [{"item_id": "K1", "title": "A"}, {"item_id": "K1", "title": "B"}]},
     "items.1.item_id"),
    ({"namespace": "shop", "items": [{"item_id": "K1", "title": "A", "image_url": "javascript:alert(1)"}]},
     "items.0.image_url"),
    ({"namespace": "shop", "items": [{"item_id": "K1", "title": "A", "colour": "red"}]}, "items.0.colour"),
    ({"namespace": "shop", "items": [{"item_id": "x" * 99, "title": "A"}]}, "items.0.item_id"),
    ({"namespace": "my shop", "items": [{"item_id": "K1", "title": "A"}]}, "namespace"),
    ({"namespace": "shop", "items": []}, "items"),
    ({"namespace": "shop", "items": [{"item_id": str(n), "title": "A"} for n in range(10_001)]}, "items"),
    ({"items": [{"item_id": "K1", "title": "A"}]}, "namespace"),
])
def test_a_bad_import_names_the_item_and_field_and_imports_nothing(db, client_staff, body, field):
    before = Item.objects.count()
    assert_error(client_staff.post(IMPORT, body, format="json"), 400, field)
    assert Item.objects.count() == before
