"""Accessibility of the storefront in a real browser: axe-core's WCAG 2.0 and 2.1 level A and AA
rules (and its best practices) on every page a shopper reaches, at desktop and phone widths;
every image with alt text and every form field with a label; and the keyboard alone: the skip
link, a visible focus outline, the star rating, the cart buttons and the cards' feedback buttons.

A failure lists, page by page, each rule broken (id, impact, help and its link) and the elements
that break it (selectors, what to fix); screenshots land in test-artifacts/screenshots/a11y-*.png."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from catalog.demo import seed_demo
from catalog.models import Item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# WCAG 2.0 and 2.1, levels A and AA; and axe's best practices (heading order, landmarks, ...),
# which the store meets as well
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SHOWN = 5  # elements listed for each rule broken on a page
PASSWORD = "a-long-demo-passphrase-2026"
# a poster the catalogue could hold (MovieLens ships none), so that pages show an <img>
POSTER = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 3 4'%3E"
          "%3Crect width='3' height='4' fill='%23345'/%3E%3C/svg%3E")

# Form fields without a label (<label for>, a wrapping <label>, aria-label or aria-labelledby)
# and images without alt text (alt="" marks one as decorative), as "what: the element".
UNLABELLED_JS = """() => {
  const describe = el => el.outerHTML.slice(0, 160);
  const fields = [...document.querySelectorAll("input, select, textarea")].filter(el =>
    !["hidden", "submit", "button", "reset", "image"].includes(el.type)
    && !el.labels.length && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"));
  const images = [...document.querySelectorAll("img, svg, [role=img]")].filter(el =>
    el.tagName === "IMG" ? !el.hasAttribute("alt")
      : !el.closest("[aria-hidden=true]") && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"));
  return [...fields.map(el => "field without a label: " + describe(el)),
          ...images.map(el => "image without alt text: " + describe(el))];
}"""


# Whether an element is decorative (hidden from assistive technology): the initial that stands
# in for a missing poster, white on a colour drawn from the title, is too short for axe to decide
# its contrast ("needs review"); it is not text anyone needs to read (the title is under it).
DECORATIVE_JS = "selector => document.querySelector(selector)?.closest('[aria-hidden=true]') != null"


def describe(rule: dict, nodes: list[dict], *, needs_review: bool = False) -> list[str]:
    """A rule that failed: its id, impact and help, then each element's selector and what to fix."""
    if not nodes:
        return []
    unsure = " (axe could not decide: needs review)" if needs_review else ""
    lines = [f"{rule['id']} ({rule['impact']}){unsure}: {rule['help']} <{rule['helpUrl']}>"]
    for node in nodes[:SHOWN]:
        summary = " ".join((node.get("failureSummary") or "").split())
        lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    if len(nodes) > SHOWN:
        lines.append(f"    and {len(nodes) - SHOWN} more elements")
    return lines


class Audit:
    """Runs axe-core on the page as it is and collects what it finds, page by page, with a
    screenshot of each (test-artifacts/screenshots/a11y-<name>.png)."""

    def __init__(self, page, shot) -> None:
        self.page, self.shot, self.axe = page, shot, Axe()
        self.found: dict[str, list[str]] = {}

    def __call__(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        results = self.axe.run(self.page, options={
            "runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations", "incomplete"]})
        lines = []
        for violation in results.response["violations"]:
            lines += describe(violation, violation["nodes"])
        for unsure in results.response["incomplete"]:
            nodes = [node for node in unsure["nodes"] if not (
                unsure["id"] == "color-contrast" and self.page.evaluate(DECORATIVE_JS, node["target"][0]))]
            lines += describe(unsure, nodes, needs_review=True)
        lines += [f"own-check: {problem}" for problem in self.page.evaluate(UNLABELLED_JS)]
        if lines:
            self.found[f"{name} ({self.page.url})"] = lines
        self.shot(self.page, f"a11y-{name}")

    def report(self) -> str:
        return "\n".join(["accessibility violations:", *(
            f"{where}:\n" + "\n".join(f"  {line}" for line in lines) for where, lines in self.found.items())])


@pytest.fixture
def audit(page, shot) -> Audit:
    return Audit(page, shot)


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.fill("#id_interests", "space adventures and epic battles")
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/accounts/onboarding/$"))


def test_anonymous_pages_pass_axe(page, trained_model, audit):
    seed_demo()  # review texts under the ratings
    Item.objects.filter(slug="star-wars-1977").update(image_url=POSTER)
    page.goto("/")
    audit("home")
    page.locator("#q").press_sequentially("star w", delay=50)
    expect(page.locator("#suggestions a").first).to_be_visible()
    audit("home-suggestions")
    page.goto("/browse/")
    audit("browse")
    page.goto("/browse/Comedy/?sort=rating&page=2")
    audit("browse-filtered")
    page.goto("/search/?q=toy+story")
    expect(page.locator('[data-results="matches"]')).to_contain_text("Toy Story (1995)")
    audit("search")
    page.goto("/search/?q=godfathr")
    expect(page.locator('[data-results="related"]')).to_be_visible()
    audit("search-related")
    page.goto("/search/?genre=Comedy&year_min=1990&year_max=1995")
    audit("search-filters")
    page.goto("/search/?q=star&year_min=abc")
    expect(page.locator(".error")).to_be_visible()
    audit("search-error")
    page.goto("/items/star-wars-1977/")
    expect(page.locator(".review").first).to_be_visible()
    audit("item")
    page.goto("/cart/")
    audit("cart-empty")
    page.goto("/items/toy-story-1995/")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator(".messages")).to_contain_text("is in your cart")
    audit("item-added-to-cart")
    page.goto("/cart/")
    expect(page.locator('[data-row="with_cart"]')).to_be_visible()
    audit("cart")
    page.goto("/accounts/login/")
    audit("login")
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "wrong-password")
    page.click("main button[type=submit]")
    expect(page.locator("main .errorlist")).to_be_visible()
    audit("login-error")
    page.goto("/accounts/signup/")
    audit("signup")
    page.fill("#id_username", "someone")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD + "-not-the-same")
    page.click("main button[type=submit]")
    expect(page.locator("main .errorlist")).to_be_visible()
    audit("signup-error")
    assert page.goto("/items/no-such-movie/").status == 404
    audit("404")
    page.set_viewport_size(PHONE)
    for name, path in [("home", "/"), ("browse", "/browse/"), ("search", "/search/?q=godfathr"),
                       ("item", "/items/star-wars-1977/"), ("cart", "/cart/")]:
        page.goto(path)
        audit(f"phone-{name}")
    assert not audit.found, audit.report()


def test_signed_in_pages_pass_axe(page, trained_model, audit):
    seed_demo()  # review texts under the ratings
    sign_up(page, "axeshopper")
    audit("onboarding")
    page.click("text=Start my feed")  # nothing picked
    expect(page.locator(".onboarding .error")).to_be_visible()
    audit("onboarding-error")
    for title in ["Star Wars (1977)", "Return of the Jedi (1983)", "Raiders of the Lost Ark (1981)"]:
        page.get_by_label(title).check()
    page.click("text=Start my feed")
    expect(page.locator('[data-row="for_you"]')).to_be_visible()
    audit("home-signed-in")
    page.locator('[data-row="for_you"] details.why summary').first.click()
    audit("home-why")
    page.locator('[data-row="for_you"] article.card').first.get_by_role("button", name="Not interested").click()
    expect(page.locator(".card.done").first).to_contain_text("won't show")
    audit("home-not-interested")
    page.goto("/?refine=more+sci-fi%2C+less+horror+xyzzyq")
    audit("home-refined")
    page.goto("/items/the-empire-strikes-back-1980/")
    expect(page.locator(".review-form")).to_be_visible()
    expect(page.locator(".review", has_text="Darker and better than the first one")).to_be_visible()
    audit("item-signed-in")
    page.locator(".review details.report summary").first.click()  # "Report this review", opened
    expect(page.locator(".review .report-form").first).to_be_visible()
    audit("item-report-form")
    page.locator('input[name=rating][value="4.5"]').check()
    page.fill("#id_text", "Even better the second time.")
    page.click("text=Save rating")
    expect(page.locator(".messages")).to_contain_text("Thanks! You rated")
    audit("item-rated")
    page.goto("/accounts/profile/")
    audit("profile")
    page.goto("/accounts/history/")
    page.get_by_role("button", name="Don't use").first.click()
    expect(page.locator(".history tr.unused").first).to_be_visible()
    audit("history")
    page.set_viewport_size(PHONE)
    for name, path in [("home-signed-in", "/"), ("item-signed-in", "/items/the-empire-strikes-back-1980/"),
                       ("onboarding", "/accounts/onboarding/"), ("profile", "/accounts/profile/"),
                       ("history", "/accounts/history/")]:
        page.goto(path)
        audit(f"phone-{name}")
    assert not audit.found, audit.report()


def tab_to(page, target, *, limit: int = 400) -> None:
    """Press Tab until ``target`` has the focus (reachable by keyboard), and check that its focus
    is visible: an outline of at least 2 px, not 'none'."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail(f"Tab never reached {target}")
    style = target.evaluate("el => [el.matches(':focus-visible'), getComputedStyle(el).outlineStyle,"
                            " parseFloat(getComputedStyle(el).outlineWidth)]")
    assert style[0] and style[1] != "none" and style[2] >= 2, (target, style)


def test_the_keyboard_alone_reaches_and_operates_everything(page, trained_model, shot):
    # the skip link: the first Tab shows it, Enter skips the header
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, box
    shot(page, "a11y-keyboard-skip")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    # focus is visible on links and buttons, in the header and in the page
    page.goto("/")
    tab_to(page, page.locator("header").get_by_role("link", name="Browse"))
    tab_to(page, page.locator("header").get_by_role("button", name="Search"))
    tab_to(page, page.get_by_role("button", name="Refine"))

    sign_up(page, "keyboarder")
    # onboarding by keyboard: Space picks a film, the submit button is reached
    tab_to(page, page.get_by_label("Star Wars (1977)"))
    page.keyboard.press("Space")
    expect(page.get_by_label("Star Wars (1977)")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Start my feed"))
    page.keyboard.press("Enter")
    expect(page.locator('[data-row="for_you"]')).to_be_visible()

    # a card's feedback buttons: Enter says "Not interested"; the focus moves to the note that
    # replaces the card (read out), Tab reaches its Undo
    card = page.locator('[data-row="for_you"] article.card').first
    title = card.locator("h3").inner_text()
    tab_to(page, card.locator("summary"))
    page.keyboard.press("Enter")
    expect(card.locator(".sentence")).to_be_visible()
    tab_to(page, card.get_by_role("button", name="Not interested"))
    page.keyboard.press("Enter")
    done = page.locator(".card.done").first
    expect(done).to_contain_text("won't show")
    expect(done).to_be_focused()
    tab_to(page, done.get_by_role("button", name="Undo"), limit=1)
    shot(page, "a11y-keyboard-not-interested")
    page.keyboard.press("Enter")
    expect(done).to_contain_text(f"{title} can be recommended to you again")
    expect(done).to_be_focused()
    card = page.locator('[data-row="for_you"] article.card').first
    tab_to(page, card.get_by_role("button", name="More like this"))
    page.keyboard.press("Space")
    expect(page.locator(".card.done", has_text="We'll show you more like")).to_be_visible()

    # the star rating: Tab enters the group, arrow keys choose, Tab on to the review and Save
    page.goto("/items/fargo-1996/")
    first_star = page.locator('input[name=rating][value="5.0"]')
    tab_to(page, first_star)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    checked = page.locator("input[name=rating]:checked")
    expect(checked).to_have_value("3.5")
    expect(checked).to_be_focused()
    shot(page, "a11y-keyboard-stars")
    tab_to(page, page.locator("#id_text"))
    page.keyboard.type("Good, if a little cold.")
    tab_to(page, page.get_by_role("button", name="Save rating"))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Thanks! You rated Fargo (1996) 3.5 stars.")

    # the cart: add on the item page, open the cart from the header, remove, all by keyboard
    tab_to(page, page.get_by_role("button", name="Add to cart"))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Fargo (1996) is in your cart.")
    tab_to(page, page.get_by_role("link", name="Cart (1)"))
    page.keyboard.press("Enter")
    expect(page.locator("table.cart tbody")).to_contain_text("Fargo (1996)")
    tab_to(page, page.get_by_role("button", name="Remove"))
    page.keyboard.press("Space")
    expect(page.locator("main")).to_contain_text("Your cart is empty.")
