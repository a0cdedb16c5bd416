"""The minimal storefront pages and the admin, on the real data."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.demo import DEMO_STAFF, seed_demo


def test_browse_lists_items_paginated_sorted_and_by_genre(ml100k, client):
    response = client.get("/browse/")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 1682
    assert b"Star Wars (1977)" in response.content  # the most rated movie is on page 1
    page = client.get("/browse/Film-Noir/", {"page": 2, "sort": "rating"})
    assert page.status_code == 200
    assert all("Film-Noir" in item.genres for item in page.context["page"])
    ratings = [item.avg_rating or 0 for item in page.context["page"]]
    assert ratings == sorted(ratings, reverse=True)
    first = client.get("/browse/", {"sort": "rating"}).context["page"]
    assert first[0].avg_rating is not None  # unrated items go last, not first
    assert client.get("/browse/", {"page": "999", "sort": "bogus"}).status_code == 200  # no 500
    newest = client.get("/browse/", {"sort": "newest"}).context["page"]
    assert newest[0].year >= newest[len(newest) - 1].year


def test_item_page_shows_reviews_and_facts(ml100k, client):
    seed_demo()
    response = client.get(reverse("item_detail", kwargs={"slug": "star-wars-1977"}))
    assert response.status_code == 200
    assert b"space adventure that started it all" in response.content
    assert "directed_by" in response.context["facts"]
    assert response.context["reviews"].paginator.count == 583
    assert client.get("/items/no-such-movie/").status_code == 404


@pytest.mark.parametrize("model", ["item", "review", "event", "profile", "entity", "itemrelation", "category"])
def test_admin_changelists_with_search(ml100k, client, model):
    seed_demo()
    client.login(username=DEMO_STAFF[0], password=DEMO_STAFF[1])
    url = reverse(f"admin:catalog_{model}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "star"}).status_code == 200


def test_admin_needs_staff(ml100k, client):
    User.objects.create_user("shopper", password="pw-123456789")
    client.login(username="shopper", password="pw-123456789")
    assert client.get(reverse("admin:catalog_item_changelist")).status_code == 302
