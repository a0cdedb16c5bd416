"""Signing in: what the shopper did in this browser session before (views, clicks, cart adds)
becomes the account's, so the feed, a mailing's results, the export and an erasure see it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog import selectors, services
from catalog.models import Event, EventKind
from recommender.privacy import user_erase
from recommender.selectors import mailing_results


def test_signing_in_claims_the_visits_actions_and_a_mailed_click_earns_the_purchase_after(db):
    films = [services.item_create(title=f"Claim Film {n}", year=2000 + n, genres=["Drama"]) for n in range(3)]
    shopper = User.objects.create_user("carol", password="carol-password-2026")
    stranger = User.objects.create_user("dave")
    services.event_record(item=films[2], kind=EventKind.VIEW, user=stranger)
    browser = Client()
    # a mailed link opened before signing in: a click and a view, anonymous
    page = browser.get(reverse("item_detail", args=[films[0].slug]), {"src": "batch", "pos": 1, "rid": "winter-mail"})
    assert page.status_code == 200
    browser.get(reverse("item_detail", args=[films[1].slug]))
    visit = browser.session.session_key
    services.event_record(item=films[1], kind=EventKind.IMPRESSION, session_key=visit)
    other_visit = Client()  # someone else's browser, never signed in here
    other_visit.get(reverse("item_detail", args=[films[2].slug]))
    before = Event.objects.filter(user=None, session_key=visit).exclude(kind=EventKind.IMPRESSION)
    assert sorted(before.values_list("kind", flat=True)) == ["click", "view", "view"]

    signed_in = browser.post(reverse("login"), {"username": "carol", "password": "carol-password-2026"})
    assert signed_in.status_code == 302 and browser.session.session_key != visit  # Django's new key
    mine = selectors.user_events(user=shopper)
    assert sorted((e.kind, e.item_id) for e in mine) == sorted(
        [("click", films[0].pk), ("view", films[0].pk), ("view", films[1].pk)])
    assert {e.session_key for e in mine} == {visit}
    history = browser.get(reverse("history")).content.decode()  # the shopper sees them, and may stop their use
    assert "Claim Film 0" in history and "Claim Film 1" in history and "Claim Film 2" not in history
    # what was shown, not done, stays the session's; the other browser's and the stranger's stay theirs
    assert Event.objects.get(item__in=films, kind=EventKind.IMPRESSION).user is None
    assert Event.objects.filter(item__in=films, user=None, kind=EventKind.VIEW).exclude(session_key=visit).count() == 1
    assert Event.objects.filter(user=stranger).count() == 1

    # the purchase that followed the mailed click is credited to the mailing
    browser.post(reverse("cart_add", args=[films[0].slug]))
    browser.post(reverse("checkout"))
    [mailing] = mailing_results()
    assert (mailing.campaign, mailing.clicks, mailing.shoppers, mailing.bought) == ("winter-mail", 1, 1, 1)

    # signing in again in the same session claims nothing more, and an erasure leaves nothing of the visit
    browser.post(reverse("login"), {"username": "carol", "password": "carol-password-2026"})
    user_erase(user=shopper)
    assert not Event.objects.filter(session_key__in=[visit, browser.session.session_key]).exists()
    assert Event.objects.filter(item__in=films).count() == 2  # the other browser's view and the stranger's
