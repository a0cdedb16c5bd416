"""The minimal storefront pages and the admin, on the real data."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.demo import DEMO_STAFF, seed_demo


def test_home_lists_items_paginated_and_by_genre(ml100k, client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 1682
    assert b"Star Wars (1977)" in response.content  # the most rated movie is on page 1
    page = client.get("/", {"genre": "Film-Noir", "page": 2})
    assert page.status_code == 200
    assert all("Film-Noir" in item.genres for item in page.context["page"])
    assert client.get("/", {"page": "999"}).status_code == 200  # out of range: last page, not a 500


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
