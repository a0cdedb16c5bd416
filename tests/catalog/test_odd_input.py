"""Odd input from a browser or a hand-made request: a clear answer, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog.models import Item


# redirect() read a bare word as a view name to reverse: NoReverseMatch, a 500
@pytest.mark.parametrize("target", ["abc", "0", "<script>", "{}", "%00", "javascript:alert(1)",
                                    "//evil.example/x", "https://evil.example/items/"])
@pytest.mark.parametrize("action", ["cart_add", "cart_remove", "item_feedback"])
def test_a_next_that_is_not_a_page_of_the_site_goes_back_to_the_default(ml100k, client, action, target):
    item = Item.objects.get(slug="star-wars-1977")
    response = client.post(reverse(action, args=[item.slug]), {"next": target, "kind": "more_like_this"})
    assert response.status_code == 302
    assert response.url.startswith("/") and not response.url.startswith("//") and response.url != target


def test_a_next_on_the_site_is_followed(ml100k, client):
    item = Item.objects.get(slug="star-wars-1977")
    for target in ("/browse/?page=2", "http://testserver/search/?q=fargo"):
        response = client.post(reverse("cart_add", args=[item.slug]), {"next": target})
        assert response.status_code == 302 and response.url == target


# the changelists' filters sent the NUL to PostgreSQL, which refuses it in text: a 500
@pytest.mark.parametrize("url", ["/admin/catalog/item/?genre=%00", "/admin/catalog/event/?kind=%00",
                                 "/admin/catalog/profile/?occupation__exact=%00",
                                 "/admin/recommender/auditrun/?status=x%00y", "/admin/catalog/item/?q%00=1"])
def test_admin_pages_refuse_a_nul_character_with_a_400(db, client, url):
    User.objects.create_superuser("boss", "boss@example.com", "boss-password-2026")
    client.login(username="boss", password="boss-password-2026")
    assert client.get(url).status_code == 400
    assert client.get(url.replace("%00", "")).status_code in (200, 302)
