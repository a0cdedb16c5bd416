"""How often a film's recommendation cards were shown and clicked, per row: on its admin page,
and the item list's filter of films shown or not shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Event, EventKind, Item
from recommender.selectors import item_exposure

pytestmark = pytest.mark.django_db


@pytest.fixture
def films(db):
    return [Item.objects.create(title=f"Film {n}", slug=f"film-{n}", external_id=f"t:exposure-{n}") for n in range(3)]


def shown(item, src, *, kind=EventKind.IMPRESSION, days_ago=0, times=1, **context):
    at = timezone.now() - timedelta(days=days_ago)
    Event.objects.bulk_create([Event(item=item, kind=kind, session_key="s", created_at=at,
                                     context={"src": src, "pos": 1, **context}) for _ in range(times)])


def test_impressions_and_clicks_per_row_in_the_window(films):
    film, other, _never = films
    shown(film, "for_you", times=3)
    shown(film, "for_you", kind=EventKind.CLICK)
    shown(film, "trending", times=5)
    shown(film, "app-carousel")  # an API client's own row, by the key it sent
    shown(film, "for_you", days_ago=31, times=7)  # outside the window
    shown(other, "for_you", times=9)  # another film's
    shown(film, "for_you", kind=EventKind.VIEW)  # not an impression or a click
    Event.objects.create(item=film, kind=EventKind.CLICK, session_key="s", context={},
                         created_at=timezone.now())  # not from a card

    seen = item_exposure(film)
    assert [(r.row, r.name, r.impressions, r.clicks) for r in seen.rows] == [
        ("trending", "Trending now", 5, 0), ("for_you", "Recommended for you", 3, 1),
        ("app-carousel", "app-carousel", 1, 0)]
    assert (seen.impressions, seen.clicks) == (9, 1) and seen.ctr == pytest.approx(1 / 9)
    assert seen.rows[1].ctr == pytest.approx(1 / 3)
    assert timezone.now() - seen.last_shown < timedelta(minutes=1)
    assert item_exposure(film, days=40).impressions == 16
    assert item_exposure(films[2]).rows == [] and item_exposure(films[2]).ctr is None


def test_the_items_admin_page_and_list_filter(staff_client, films):
    film, other, never = films
    shown(film, "for_you", times=1200)
    shown(film, "for_you", kind=EventKind.CLICK, times=30)
    shown(other, "trending", days_ago=45)  # shown, but not lately
    page = staff_client.get(reverse("admin:catalog_item_change", args=[film.pk])).content.decode()
    assert "Shown 1,200 times, clicked 30 times (click-through 2.5%)" in page
    assert "<td>Recommended for you</td>" in page
    page = staff_client.get(reverse("admin:catalog_item_change", args=[never.pk])).content.decode()
    assert "Not shown in any recommendation row in the last 30 days." in page

    url = reverse("admin:catalog_item_changelist")
    listed = staff_client.get(url, {"shown": "no", "q": "Film"}).content.decode()
    assert "Film 1" in listed and "Film 2" in listed and "Film 0" not in listed
    listed = staff_client.get(url, {"shown": "yes", "q": "Film"}).content.decode()
    assert "Film 0" in listed and "Film 1" not in listed and "Film 2" not in listed
