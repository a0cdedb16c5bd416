"""/api/items/ and /api/categories/ on MovieLens-100K."""

import pytest

from catalog.models import Category, Item
from tests.api.conftest import assert_error

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


def test_hidden_reviews_count_nowhere(ml100k, anon):
    from catalog.models import Review

    item = Item.objects.get(slug="star-wars-1977")
    Review.objects.filter(pk__in=item.reviews.order_by("pk").values("pk")[:3]).update(is_hidden=True)
    assert anon.get(f"/api/items/{item.pk}/").json()["review_count"] == 580


def test_text_query_uses_hybrid_search(ml100k_embedded, anon):
    body = anon.get("/api/items/", {"q": "star wars"}).json()
    assert body["count"] > 0
    assert body["results"][0]["title"].startswith("Star Wars")
    noir = anon.get("/api/items/", {"q": "detective", "genre": "Film-Noir"}).json()
    assert all("Film-Noir" in item["genres"] for item in noir["results"])
    assert_error(anon.get("/api/items/", {"q": "x" * 301}), 400, "q")


def test_detail_and_unknown_ids(ml100k, anon):
    item = Item.objects.get(slug="star-wars-1977")
    assert anon.get(f"/api/items/{item.pk}/").json()["title"] == "Star Wars"
    for bad in ("999999999", "0", "-1", "abc", str(10**30)):
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


def test_item_write_validation(ml100k, client_staff):
    assert_error(client_staff.post("/api/items/", {}, format="json"), 400, "title")
    dup = client_staff.post("/api/items/", {"title": "Dup", "external_id": Item.objects.first().external_id},
                            format="json")
    assert_error(dup, 400, "external_id")
    assert_error(client_staff.post("/api/items/", {"title": "x", "genres": "Drama"}, format="json"), 400, "genres")
    assert_error(client_staff.post("/api/items/", {"title": "x", "category": 10**12}, format="json"), 400, "category")
    assert_error(client_staff.post("/api/items/", {"title": "x", "price": "1e400"}, format="json"), 400, "price")


def test_categories(db, anon, client_a):
    category = Category.objects.create(name="Movies", slug="movies")
    body = anon.get("/api/categories/").json()
    assert body["count"] >= 1 and "movies" in [c["slug"] for c in body["results"]]
    assert anon.get(f"/api/categories/{category.pk}/").json()["name"] == "Movies"
    assert_error(anon.get("/api/categories/424242/"), 404)
    assert_error(client_a.post("/api/categories/", {"name": "x"}, format="json"), 405)
