"""The storefront on a phone (390 px wide, an iPhone 12-15): two cards a row, nothing wider
than the screen, onboarding picks that show they are picked and a submit button in reach."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from catalog.models import Item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LONG_WORD = "Supercalifragilisticexpialidociousnessofeverythingunbroken"


def overflow(page) -> dict[str, int]:
    return page.evaluate("() => ({page: document.documentElement.scrollWidth, screen: window.innerWidth})")


def first_row(page, cards: str) -> int:
    """How many cards share the first row of the grid."""
    return page.locator(cards).evaluate_all(
        "cards => cards.filter(c => Math.abs(c.getBoundingClientRect().top - cards[0].getBoundingClientRect().top)"
        " < 2).length")


def test_phone_pages_fit_the_screen_with_two_cards_a_row(page, ml100k, shot):
    User.objects.create_user("phone", password="phone-shopper-2026")
    page.set_viewport_size(PHONE)
    page.goto("/browse/")
    top = page.locator(".grid > .card h3 a").first.inner_text()
    item = next(i for i in Item.objects.filter(is_active=True) if i.display_title == top)
    Item.objects.filter(pk=item.pk).update(title=LONG_WORD)  # an unbroken title as wide as two cards
    page.goto("/accounts/login/")
    page.fill("#id_username", "phone")
    page.fill("#id_password", "phone-shopper-2026")
    page.click("main form button[type=submit]")

    page.goto("/browse/")
    expect(page.locator(".grid > .card").first).to_contain_text(LONG_WORD)
    shot(page, "phone-browse")
    assert first_row(page, ".grid > .card") == 2
    assert overflow(page)["page"] <= PHONE["width"], overflow(page)
    title = page.locator(".grid > .card h3").first.evaluate(
        "h => [h.scrollWidth, h.clientWidth, h.closest('.card').getBoundingClientRect().right,"
        " h.closest('.grid').getBoundingClientRect().width]")
    assert title[0] <= title[1] and title[2] <= PHONE["width"], title  # the long word wraps inside its card

    # the item's history row ("Viewed"): each film's cells stack beside its switch; four columns
    # needed 560 px, and the last one ("Don't use") scrolled sideways in the table's box
    page.goto(item.get_absolute_url())
    page.goto("/accounts/history/")
    expect(page.locator("table.history")).to_contain_text(LONG_WORD)
    shot(page, "phone-history")
    assert overflow(page)["page"] <= PHONE["width"], overflow(page)
    box = page.locator(".table-scroll").evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert box[0] <= box[1], box
    button = page.get_by_role("button", name="Don't use").first.bounding_box()
    assert button and button["x"] + button["width"] <= PHONE["width"], button

    # onboarding: two a row, picked cards are marked, "Start my feed" stays on screen
    page.goto("/accounts/onboarding/")
    picks = page.locator("label.pick")
    assert first_row(page, "label.pick") == 2
    assert overflow(page)["page"] <= PHONE["width"], overflow(page)
    picks.nth(0).locator("input").check()
    outline = "el => getComputedStyle(el).outlineStyle"
    assert picks.nth(0).evaluate(outline) == "solid" and picks.nth(1).evaluate(outline) == "none"
    submit = page.get_by_role("button", name="Start my feed")
    for _ in range(2):  # at the top of the list and halfway down
        box = submit.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
        page.mouse.wheel(0, 2000)
        page.wait_for_timeout(100)
    shot(page, "phone-onboarding")
