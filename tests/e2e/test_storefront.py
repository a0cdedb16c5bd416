"""The demo store in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def feed_titles(page) -> list[str]:
    return page.locator('[data-row="for_you"] article.card h3').all_inner_texts()


def test_shopper_journey_signup_onboarding_rating_feedback_and_xss(page, trained_model, shot):
    # sign up
    page.goto("/accounts/signup/")
    page.fill("#id_username", "newshopper")
    page.fill("#id_password1", "a-long-demo-passphrase-2026")
    page.fill("#id_password2", "a-long-demo-passphrase-2026")
    page.fill("#id_interests", "space adventures and epic battles")
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/accounts/onboarding/$"))
    # onboarding: pick three movies
    for title in ["Star Wars (1977)", "Return of the Jedi (1983)", "Raiders of the Lost Ark (1981)"]:
        page.get_by_label(title).check()
    page.click("text=Start my feed")
    expect(page.locator('[data-row="for_you"]')).to_be_visible()
    first_feed = feed_titles(page)
    assert len(first_feed) >= 8
    # every card explains itself
    why = page.locator('[data-row="for_you"] details.why').first
    why.locator("summary").click()
    expect(why.locator(".sentence")).to_contain_text(re.compile(r"\w+"))
    assert page.locator('[data-row="for_you"] details.why').count() == len(first_feed)
    shot(page, "home")
    # rate the top recommendation: the next feed changes without retraining
    page.locator('[data-row="for_you"] article.card h3 a').first.click()
    expect(page.locator("h1")).to_have_text(first_feed[0])
    page.locator('input[name=rating][value="1.0"]').check()
    page.fill("#id_text", "<script>alert('xss')</script> not for me")
    page.click("text=Save rating")
    expect(page.locator(".messages")).to_contain_text("Thanks! You rated")
    # the review renders as text, never as markup
    expect(page.locator(".review", has_text="alert('xss')")).to_contain_text("<script>alert('xss')</script>")
    assert page.locator(".review script").count() == 0
    shot(page, "item")
    page.goto("/")
    second_feed = feed_titles(page)
    assert first_feed[0] not in second_feed
    assert second_feed != first_feed
    # "Not interested" removes an item from the feed (htmx swaps the card at once)
    victim = second_feed[0]
    page.locator('[data-row="for_you"] article.card').first.get_by_role("button", name="Not interested").click()
    expect(page.locator(".card.done").first).to_contain_text("won't show")
    # ... and Undo on the same spot takes it back
    page.locator(".card.done").first.get_by_role("button", name="Undo").click()
    expect(page.locator(".card.done").first).to_contain_text(f"{victim} can be recommended to you again")
    page.goto("/")
    assert feed_titles(page)[0] == victim
    page.locator('[data-row="for_you"] article.card').first.get_by_role("button", name="Not interested").click()
    expect(page.locator(".card.done").first).to_contain_text("won't show")
    page.goto("/")
    assert victim not in feed_titles(page)
    # profile with ratings and activity
    page.goto("/accounts/profile/")
    expect(page.locator("text=My ratings")).to_be_visible()
    expect(page.locator(".activity")).to_contain_text("Not interested")
    shot(page, "profile")
    # "Don't use X for my recommendations" under a card's Why?: no card is explained by X any more
    page.goto("/")
    card = page.locator('[data-row="for_you"] article.card', has=page.locator("form[action^='/accounts/history/']"))
    button = card.first.get_by_role("button", name=re.compile("for my recommendations$"))
    card.first.locator("summary").click()
    anchor = re.fullmatch(r"Don't use (.+) for my recommendations", button.inner_text()).group(1)
    assert any(anchor in text for text in page.locator('[data-row="for_you"] .sentence').all_text_contents())
    button.click()
    expect(page.locator(".messages")).to_contain_text(f"your recommendations no longer use {anchor}")
    assert not any(anchor in text for text in page.locator('[data-row="for_you"] .sentence').all_text_contents())
    page.goto("/accounts/history/")
    expect(page.locator(".history tr.unused")).to_contain_text(anchor)
    expect(page.locator(".history tr.unused")).to_contain_text("Not used.")
    shot(page, "history")
    # My list: save a film from its page, then a suggestion from the list's own row
    from catalog.models import Event

    page.goto("/items/alien-1979/")
    page.locator(".buy").get_by_role("button", name="Save to my list").click()  # htmx: the button turns
    expect(page.locator(".buy").get_by_role("button", name="✓ On my list")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.locator(".buy").get_by_role("button", name="✓ On my list")).to_be_visible()
    page.get_by_role("link", name="My list").click()
    expect(page.locator("h1")).to_contain_text("My list (1)")
    row = page.locator('[data-row="with_list"]')
    expect(row.locator("h2")).to_have_text("Goes well with Alien (1979)")
    suggested = row.locator("article.card h3").first.inner_text()
    card = row.locator("article.card").first
    card.get_by_role("button", name="Save to my list").click()
    expect(card.get_by_role("button", name="✓ On my list")).to_be_focused()  # in place, focus kept on it
    assert Event.objects.filter(kind="save", context__src="with_list", context__pos=1).exists()
    # a feed card saves too, and shows what is on the list
    page.goto("/")
    unsaved = page.locator('[data-row="for_you"] article.card', has=page.get_by_role("button", name="Save to my list"))
    first = page.locator(f'[data-item="{unsaved.first.get_attribute("data-item")}"]').first
    saved_from_feed = first.locator("h3").inner_text()
    first.get_by_role("button", name="Save to my list").click()
    expect(first.get_by_role("button", name="✓ On my list")).to_be_visible()
    assert Event.objects.filter(kind="save", context__src="for_you", item__pk=first.get_attribute("data-item")).exists()
    page.goto("/list/")
    expect(page.locator("h1")).to_contain_text("My list (3)")
    expect(page.locator(".grid article.card h3").nth(0)).to_have_text(saved_from_feed)  # the latest saved first
    expect(page.locator(".grid article.card h3").nth(1)).to_have_text(suggested)
    shot(page, "my_list")
    page.locator(".grid article.card").first.get_by_role("button", name=re.compile("^Remove")).click()
    expect(page.locator(".messages")).to_contain_text(f"{saved_from_feed} is off your list.")
    expect(page.locator("h1")).to_contain_text("My list (2)")


def test_anonymous_session_search_and_bad_input(page, trained_model, shot):
    page.goto("/")
    assert page.locator('[data-row="because_viewed"]').count() == 0
    for slug in ["star-wars-1977", "the-empire-strikes-back-1980", "return-of-the-jedi-1983"]:
        page.goto(f"/items/{slug}/")
    page.goto("/")
    row = page.locator('[data-row="because_viewed"]')
    expect(row.locator("h2")).to_have_text("Because you viewed Return of the Jedi (1983)")
    assert row.locator("article.card").count() >= 5
    # the search box suggests titles as one types; a suggestion opens the item, counted as a click
    page.locator("#q").press_sequentially("star w", delay=50)
    suggestion = page.locator("#suggestions a").first
    expect(suggestion).to_have_text("Star Wars (1977)")
    shot(page, "suggestions")
    suggestion.click()
    expect(page).to_have_url(re.compile(r"/items/star-wars-1977/\?src=suggest&pos=1$"))
    # and by keyboard: down to the second suggestion, up, down again, Enter; Escape closes them
    # (the focus stays in the box: tests/e2e/test_accessibility.py has the combobox in detail)
    page.locator("#q").press_sequentially("godf", delay=50)
    expect(page.locator("#suggestions a")).to_have_count(3)
    for key in ("ArrowDown", "ArrowDown", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
    expect(page.locator("#suggestions a").nth(1)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#suggestions a")).to_have_count(0)
    expect(page.locator("#q")).to_be_focused()
    page.locator("#q").press_sequentially("a", delay=50)  # "godfa": The Godfather, Part II
    expect(page.locator("#suggestions a")).to_have_count(2)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/items/the-godfather-1972/\?src=suggest&pos=1$"))
    from catalog.models import Event

    assert Event.objects.filter(kind="click", item__slug="star-wars-1977", context__src="suggest").exists()
    # search finds an expected title
    page.fill("#q", "toy story")
    page.click("header button[type=submit]")
    expect(page.locator('[data-results="matches"]')).to_contain_text("Toy Story (1995)")
    shot(page, "search")
    # an anonymous cart: add, see it in the header and on the cart page, check out
    page.locator(".grid a", has_text="Toy Story (1995)").first.click()
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator(".messages")).to_contain_text("Toy Story (1995) is in your cart.")
    page.get_by_role("link", name="Cart (1)").click()
    expect(page.locator("table.cart tbody")).to_contain_text("Toy Story (1995)")
    row = page.locator('[data-row="with_cart"]')
    expect(row.locator("h2")).to_have_text("Goes well with Toy Story (1995)")
    assert row.locator("article.card").count() >= 5
    # a suggestion goes into the cart from its card, the add attributed to the row
    suggested = row.locator("article.card h3").first.inner_text()
    row.locator("article.card").first.get_by_role("button", name="Add to cart").click()
    expect(page.locator("table.cart tbody")).to_contain_text(suggested)
    expect(page.get_by_role("link", name="Cart (2)")).to_be_visible()
    assert Event.objects.filter(kind="add_to_cart", context__src="with_cart", context__pos=1).exists()
    shot(page, "cart")
    page.get_by_role("button", name="Check out (demo)").click()
    expect(page.locator(".messages")).to_contain_text("demo checkout of 2 movies;")
    expect(page.get_by_role("link", name="Cart", exact=True)).to_be_visible()
    assert Event.objects.filter(kind="purchase", item__slug="toy-story-1995", user=None).exists()
    # bad input gets a message, never a server error
    page.goto("/search/?q=" + "x" * 400)
    expect(page.locator(".error")).to_contain_text("limited to 300 characters")
    page.goto("/search/?q=star&year_min=abc")
    expect(page.locator(".error")).to_contain_text("must be a year")
    response = page.goto("/items/no-such-movie/")
    assert response.status == 404


def test_a_phone_wide_page_does_not_scroll_sideways(page, trained_model, shot):
    """At 375 px the header wraps (search on its own line) instead of pushing the page wider;
    only the recommendation rows scroll sideways, inside themselves."""
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ["/", "/browse/", "/items/star-wars-1977/", "/search/?q=star"]:
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        button = page.locator("header button[type=submit]").bounding_box()
        assert button["x"] + button["width"] <= 375, path
    shot(page, "phone-search")
