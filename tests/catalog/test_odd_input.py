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
def test_admin_pages_refuse_a_nul_character_with_a_400(staff_client, url):
    assert staff_client.get(url).status_code == 400
    assert staff_client.get(url.replace("%00", "")).status_code in (200, 302)


# Django lets a changelist's query string filter on any field: a year outside 1..9999 raised a
# ValueError while the list was counted, a regular expression or array PostgreSQL refuses a
# DataError; both were 500s
@pytest.mark.parametrize("url", ["/admin/catalog/item/?created_at__year=99999",
                                 "/admin/catalog/review/?created_at__year=0",
                                 "/admin/catalog/event/?created_at__year__gte=10000",
                                 "/admin/recommender/auditrun/?created_at__iso_year=-5",
                                 "/admin/catalog/item/?title__regex=(", "/admin/catalog/item/?genres__contains=x"])
def test_admin_pages_refuse_a_filter_postgresql_cannot_run_with_a_400(staff_client, url):
    assert staff_client.get(url).status_code == 400
    assert staff_client.get(url.split("?")[0] + "?created_at__year=2026").status_code == 200


def test_admin_review_list_filters_written_reviews(staff_client):
    from catalog import services

    film = services.item_create(title="Reviewed Zqxj", year=2001)  # MovieLens' ratings may be loaded too
    critic, rater = User.objects.create_user("critic"), User.objects.create_user("rater")
    written = services.review_save(user=critic, item=film, rating=4, text="Fine.")
    bare = services.review_save(user=rater, item=film, rating=3)
    url = "/admin/catalog/review/"
    assert [r.pk for r in staff_client.get(url, {"text": "yes", "q": "Zqxj"}).context["cl"].result_list] == [written.pk]
    assert [r.pk for r in staff_client.get(url, {"text": "no", "q": "Zqxj"}).context["cl"].result_list] == [bare.pk]
