"""Staff pages in a real browser: the audit page with its charts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from recommender.audits import audit_create, audit_execute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_accessible(page, *, django_markup: tuple[str, ...] = ()) -> None:
    """axe-core's WCAG 2.0/2.1 A and AA rules and best practices on the page's own content (the
    part this project writes; Django's admin frame around it is Django's). ``django_markup``:
    rules left out where Django's own templates break them (named at each use)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context={"include": [["#content-main"]]}, options={
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
        "rules": {rule: {"enabled": False} for rule in django_markup},
        "resultTypes": ["violations"]})
    assert not results.response["violations"], [(v["id"], [n["target"] for n in v["nodes"]])
                                                 for v in results.response["violations"]]


def test_audit_page_renders_its_charts(page, trained_model, shot):
    User.objects.create_superuser("auditor", "auditor@example.com", "auditor-password-2026")
    run = audit_execute(audit_create(sample=60, k=10))
    page.goto("/admin/login/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", "auditor-password-2026")
    page.click("input[type=submit]")
    page.goto(f"/admin/recommender/auditrun/{run.pk}/change/")
    expect(page.locator("svg.chart").first).to_be_visible()
    titles = page.locator("svg.chart").evaluate_all("charts => charts.map(c => c.getAttribute('aria-label'))")
    assert {"Lorenz curve of item exposure", "Recommendations by popularity decile",
            "Fairness re-ranker: NDCG@10 vs exposure Gini", "Trend across audits"} <= set(titles)
    assert any(t.startswith("NDCG@10 and recall by gender") for t in titles)
    expect(page.locator("text=Export CSV")).to_be_visible()
    shot(page, "audit")
    page.goto("/admin/catalog/item/?embedding=fresh")
    expect(page.locator("#result_list")).to_contain_text("fresh")
    shot(page, "admin-items")


@pytest.mark.parametrize("width", [1400, 1280])
def test_item_list_shows_every_column_header_in_full(page, ml100k, shot, width):
    """The list fits its box: no column (the last is embedding) is cut off or scrolled away."""
    User.objects.create_superuser("lister", "lister@example.com", "lister-password-2026")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/admin/login/")
    page.fill("#id_username", "lister")
    page.fill("#id_password", "lister-password-2026")
    page.click("input[type=submit]")
    page.goto("/admin/catalog/item/")
    expect(page.locator("th.column-embedding_status")).to_contain_text("EMBEDDING", ignore_case=True)
    box = page.locator("#changelist .results").evaluate("el => [el.scrollWidth, el.clientWidth]")
    header = page.locator("th.column-embedding_status").evaluate(
        "th => [th.getBoundingClientRect().right, th.closest('.results').getBoundingClientRect().right]")
    widths = page.locator("#result_list thead th").evaluate_all(
        "ths => ths.map(th => [th.className, Math.round(th.getBoundingClientRect().width)])")
    shot(page, f"admin-items-{width}")
    assert box[0] <= box[1] and header[0] <= header[1], (box, header, widths)


@pytest.mark.parametrize("width", [1440, 1280])
def test_staff_lists_fit_their_box(page, shot, width):
    """Reviews, events, profiles, audit runs and model versions show every column at 1280 px:
    a long film title in a foreign-key column (Django never wraps those), a 32-character session
    key, "personalization opt out" as a header and dates written out in words pushed the last
    ones out of view."""
    from django.utils import timezone

    from catalog import services
    from catalog.models import Event, Profile, ReviewReport
    from recommender.models import AuditRun, ModelVersion, RecommendationExport

    boss = User.objects.create_superuser("lister", "lister@example.com", "lister-password-2026")
    film = services.item_create(title="Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb",
                                year=1963)
    review = services.review_save(user=boss, item=film, rating=5, text="A very long review text. " * 8)
    ReviewReport.objects.create(review=review, user=boss, reason=ReviewReport.Reason.SPAM)
    Event.objects.create(session_key="x" * 32, item=film, kind="click", created_at=timezone.now())
    Profile.objects.update_or_create(user=boss, defaults={"occupation": "administrator", "age": 40})
    Profile.objects.update_or_create(user=User.objects.create_user("quiet"), defaults={"occupation": ""})
    version = ModelVersion.objects.create(artifact="v.pkl", sha256="0" * 64, n_users=943, n_items=1682,
                                          n_interactions=100_000, training_seconds=27.3)
    AuditRun.objects.create(status=AuditRun.Status.DONE, model_version=version, metrics={
        "users": 200, "gini": 0.9169, "coverage": 0.1653, "long_tail_share": 0.044, "ndcg": 0.3062})
    RecommendationExport.objects.create(created_by=boss, user_ids=list(range(1, 100_001)), total=100_000,
                                        campaign="admin-20261207",
                                        status=RecommendationExport.Status.DONE, done=100_000,
                                        recommendations=1_000_000, file_name="recommendations-1-2026-12-07.csv")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/admin/login/")
    page.fill("#id_username", "lister")
    page.fill("#id_password", "lister-password-2026")
    page.click("input[type=submit]")
    for name, url in [("reviews", "/admin/catalog/review/"), ("events", "/admin/catalog/event/"),
                      ("profiles", "/admin/catalog/profile/"), ("audits", "/admin/recommender/auditrun/"),
                      ("versions", "/admin/recommender/modelversion/"),
                      ("exports", "/admin/recommender/recommendationexport/")]:
        page.goto(url)
        box = page.locator("#changelist .results").evaluate("el => [el.scrollWidth, el.clientWidth]")
        shot(page, f"admin-{name}-{width}")
        assert box[0] <= box[1], (url, box)
        if width == 1280:
            assert_accessible(page)  # the profiles' occupation filter had an empty link for a blank one
    if width == 1280:
        page.goto("/admin/")  # the status box's links inside sentences are underlined
        assert_accessible(page)
        # its date and time boxes are named (Django's "Date:" and "Time:" are not their labels), and
        # the reports' "Delete?" boxes too; the empty heading above the rows' names is Django's template
        page.goto(f"/admin/catalog/review/{review.pk}/change/")
        expect(page.get_by_label("Date", exact=True)).to_be_visible()
        assert_accessible(page, django_markup=("empty-table-header",))


def test_a_promotion_made_in_the_admin_is_featured_in_the_shoppers_feed(page, trained_model, shot):
    from catalog.models import Event, Item
    from recommender.models import Promotion

    User.objects.create_superuser("merchant", "merchant@example.com", "merchant-password-2026")
    shopper = User.objects.get(username="ml_1")
    shopper.set_password("shopper-password-2026")
    shopper.save()
    # a film the shopper never rated and the feed would not show on its own
    film = (Item.objects.exclude(reviews__user=shopper).filter(genres__contains=["Sci-Fi"], review_count__gte=20)
            .order_by("review_count", "pk").first())
    page.goto("/admin/login/")
    page.fill("#id_username", "merchant")
    page.fill("#id_password", "merchant-password-2026")
    page.click("input[type=submit]")
    page.goto("/admin/recommender/promotion/add/")
    page.fill("#id_name", "Space week")
    assert_accessible(page)  # the film picker's search box is named after its field (select2 leaves it unnamed)
    page.get_by_role("searchbox", name="Search Films").fill(film.title)
    page.locator(".select2-results__option", has_text=film.display_title).click()
    page.fill("#id_position", "1")
    assert_accessible(page)  # select2 made the box anew after the choice: named too
    shot(page, "admin-promotion")
    page.click("input[name=_save]")
    expect(page.locator("#result_list")).to_contain_text("running")
    assert list(Promotion.objects.get().items.all()) == [film]

    page.context.clear_cookies()  # the shopper, in a browser of their own
    page.goto("/accounts/login/")
    page.fill("#id_username", "ml_1")
    page.fill("#id_password", "shopper-password-2026")
    page.click("main form button[type=submit]")
    page.goto("/")
    card = page.locator("article.card").first
    expect(card.locator(".featured")).to_have_text("Featured by the store")
    expect(card.locator("h3")).to_have_text(film.display_title)
    card.locator("summary").click()
    expect(card.locator(".sentence")).to_have_text("Featured by the store: Space week.")  # its one film
    shot(page, "home-promoted", full_page=False)
    card.locator("h3 a").click()
    expect(page.locator("h1")).to_contain_text(film.title)
    assert Event.objects.filter(user=shopper, item=film, kind="click", context__promo=Promotion.objects.get().pk
                                ).exists()


def test_staff_read_a_shoppers_feed_and_ask_why_a_film_is_not_in_it(page, trained_model, shot):
    from catalog.models import Item
    from recommender import serving

    feed, trace = serving.feed_traced(User.objects.get(username="ml_1"), k=12, context=serving.FeedContext())
    shown = {rec.item.pk for rec in feed}
    film = Item.objects.get(pk=next(pk for n, pk in enumerate(sorted(trace.passed, key=lambda pk: -trace.scores[pk]))
                                    if n > 20 and pk not in shown))  # a candidate ranked below the feed
    User.objects.create_superuser("support", "support@example.com", "support-password-2026")
    page.goto("/admin/login/")
    page.fill("#id_username", "support")
    page.fill("#id_password", "support-password-2026")
    page.click("input[type=submit]")
    page.goto("/admin/auth/user/?q=ml_1")
    page.locator("#result_list a", has_text="ml_1").first.click()
    page.locator(".object-tools a", has_text="Recommendations").click()
    expect(page.locator("h1")).to_have_text("Recommendations for ml_1")
    expect(page.locator("#recs-feed tbody tr")).to_have_count(12)
    page.get_by_label("Title or id").fill(film.display_title)
    page.get_by_role("button", name="Explain").click()
    verdict = page.locator(".recs-verdict")
    expect(verdict).to_contain_text(film.display_title)
    expect(verdict).to_contain_text("By score it is #")
    expect(verdict.locator("table tbody tr").first).to_be_visible()
    assert_accessible(page)
    shot(page, "admin-recommendations")
    # the film's side: its place in 40 shoppers' feeds, each answer one click from that shopper's page
    page.goto(f"/admin/catalog/item/{film.pk}/change/")
    # its knowledge-graph facts' "Delete?" boxes are named after the fact (Django's have no label)
    assert_accessible(page, django_markup=("empty-table-header",))
    page.get_by_role("link", name="Why is it shown, or not?").click()
    expect(page.locator("h1")).to_have_text(f"Reach of {film.display_title}")
    expect(page.locator(".reach-answers tbody tr")).to_have_count(40)
    assert_accessible(page)
    shot(page, "admin-reach")
    page.locator(".reach-answers tbody a").first.click()
    expect(page.locator(".recs-verdict")).to_contain_text(film.display_title)
    # and its audience: the shoppers it would stand highest for, each with their feed's reason
    page.goto(f"/admin/catalog/item/{film.pk}/change/")
    page.get_by_role("link", name="Who would want it most?").click()
    expect(page.locator("h1")).to_have_text(f"Shoppers for {film.display_title}")
    page.get_by_label("Shoppers to list").fill("12")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.audience tbody tr")).to_have_count(12)
    expect(page.locator("table.audience tbody td.why").first).to_contain_text("Because")
    assert_accessible(page)
    shot(page, "admin-audience")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith(f"audience-{film.pk}-")
