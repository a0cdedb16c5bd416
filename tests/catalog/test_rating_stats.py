"""Items carry their visible reviews' count and rating total, kept by database triggers
(migration catalog 0005): every way a review is written leaves them equal to a recount."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.test import Client
from django.urls import reverse

from catalog import services
from catalog.datasets import Dataset, ItemRecord, Rating
from catalog.importing import import_dataset
from catalog.models import Item, Review
from recommender.privacy import user_erase
from tests.conftest import own_connection


def _stats() -> dict[int, tuple[int, Decimal]]:
    return {pk: (n, total) for pk, n, total in Item.objects.values_list("pk", "review_count", "rating_total")}


def _recount() -> dict[int, tuple[int, Decimal]]:
    visible = Q(reviews__is_hidden=False)
    rows = Item.objects.annotate(n=Count("reviews", filter=visible), total=Sum("reviews__rating", filter=visible))
    return {pk: (n, total or Decimal(0)) for pk, n, total in rows.values_list("pk", "n", "total")}


def _item(pk: int) -> tuple[int, Decimal]:
    return Item.objects.values_list("review_count", "rating_total").get(pk=pk)


def test_every_write_path_keeps_the_stats_equal_to_a_recount(ml100k):
    assert _stats() == _recount()  # the bulk import: one INSERT of 100,000 reviews
    star_wars = Item.objects.get(external_id="ml:50")
    n, total = _item(star_wars.pk)
    assert n == 583 and star_wars.avg_rating == pytest.approx(float(total) / 583)

    shopper = User.objects.create_user("stats-shopper")
    review = services.review_save(user=shopper, item=star_wars, rating=2)
    assert _item(star_wars.pk) == (n + 1, total + 2)
    services.review_save(user=shopper, item=star_wars, rating="4.5", text="Better the second time.")
    assert _item(star_wars.pk) == (n + 1, total + Decimal("4.5"))
    review.refresh_from_db()
    review.is_hidden = True  # the admin's moderation action saves each review like this
    review.save(update_fields=["is_hidden", "updated_at"])
    assert _item(star_wars.pk) == (n, total)
    review.is_hidden = False
    review.save(update_fields=["is_hidden", "updated_at"])
    assert _item(star_wars.pk) == (n + 1, total + Decimal("4.5"))
    services.review_delete(review=review)
    assert _item(star_wars.pk) == (n, total)

    # erasing an account takes its ratings out of every item it rated
    ml_1 = User.objects.get(username="ml_1")
    rated = list(Review.objects.filter(user=ml_1).values_list("item_id", flat=True))
    user_erase(user=ml_1)
    assert len(rated) == 272 and star_wars.pk in rated and _stats() == _recount()
    assert _item(star_wars.pk) == (n - 1, total - 5)  # ml_1 gave it 5 stars

    # an item saved from a copy read before a review came in keeps the stored figures
    stale = Item.objects.get(pk=star_wars.pk)
    services.review_save(user=shopper, item=star_wars, rating=5)
    services.item_update(item=stale, description="A long time ago.")
    stale.save()
    assert _item(star_wars.pk) == (n, total)
    created = services.item_create(title="Stats Test", year=2020, review_count=7, rating_total=Decimal(30))
    assert _item(created.pk) == (0, 0)  # only reviews set them


def test_reimport_updates_and_hidden_reviews_in_one_statement(ml100k):
    items = {f"s{n}": ItemRecord(f"s{n}", f"Stats film {n}", 2001) for n in range(3)}
    first = [Rating(f"u{u}", f"s{n}", 1.0 + u, 1) for u in range(4) for n in range(3)]
    import_dataset(Dataset("stats", first, items), namespace="rs", progress=False)
    ours = Item.objects.filter(external_id__startswith="rs:")
    assert sorted(ours.values_list("review_count", "rating_total")) == [(4, Decimal(10))] * 3
    Review.objects.filter(item__in=ours, user__username="rs_u3").update(is_hidden=True)  # one UPDATE, 3 items
    assert sorted(ours.values_list("review_count", "rating_total")) == [(3, Decimal(6))] * 3
    # a second import changes some ratings (ON CONFLICT DO UPDATE) and adds others
    second = [Rating(f"u{u}", f"s{n}", 5.0, 2) for u in range(6) for n in range(3)]
    import_dataset(Dataset("stats", second, items), namespace="rs", progress=False)
    assert _stats() == _recount()


@pytest.mark.django_db
def test_concurrent_reviews_of_one_item_are_both_counted():
    """Two transactions rate one item at once: the second waits for the first's lock on the
    item's row and adds to what it committed (a recount in the trigger would lose one)."""
    first_saved = threading.Event()

    def setup() -> tuple[Item, list[User]]:
        users = [User.objects.create_user(f"race-{n}") for n in (0, 1)]
        return services.item_create(title="Contested", year=2024), users

    def rate(user: User, item: Item, rating: int, hold: float) -> None:
        with transaction.atomic():
            services.review_save(user=user, item=item, rating=rating)
            first_saved.set()
            time.sleep(hold)  # meanwhile the second writer starts, and waits for the item's row

    with ThreadPoolExecutor(2) as pool:
        item, users = pool.submit(own_connection(setup)).result()
        try:
            first = pool.submit(own_connection(rate, users[0], item, 4, 1.0))
            assert first_saved.wait(30)
            second = pool.submit(own_connection(rate, users[1], item, 2, 0))
            first.result(60), second.result(60)
            assert pool.submit(own_connection(_item, item.pk)).result() == (2, Decimal(6))
        finally:
            pool.submit(own_connection(lambda: (Item.objects.filter(pk=item.pk).delete(),
                                                 User.objects.filter(username__startswith="race-").delete()))).result()


@pytest.mark.django_db
def test_a_rating_sent_twice_at_once_is_one_review_and_no_error():
    """A double click on the item page's rating button: both requests find no review, the second
    one's insert waits for the first's lock on the item's row, then breaks the one-review rule.
    It was a 500 (IntegrityError); now the second request updates the review the first wrote."""
    first_saved, second_waits = threading.Event(), threading.Event()

    def setup() -> tuple[Item, User]:
        return services.item_create(title="Double Click", year=2024), User.objects.create_user("double-click")

    def first_click(user: User, item: Item) -> None:
        with transaction.atomic():
            services.review_save(user=user, item=item, rating=3)
            first_saved.set()
            assert second_waits.wait(30)  # the second request found no review and waits to insert its own

    def waiting_on_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            return cursor.fetchone()[0] > 0

    def second_click(user: User, item: Item) -> tuple[int, str]:
        client = Client()
        client.force_login(user)
        response = client.post(reverse("item_rate", args=[item.slug]), {"rating": "4.5"}, follow=True)
        return response.status_code, " ".join(str(m) for m in response.context["messages"])

    with ThreadPoolExecutor(2) as pool:
        item, user = pool.submit(own_connection(setup)).result()
        try:
            first = pool.submit(own_connection(first_click, user, item))
            assert first_saved.wait(30)
            with ThreadPoolExecutor(1) as watcher:  # the pool's two threads are busy: a third looks
                second = pool.submit(own_connection(second_click, user, item))
                deadline = time.monotonic() + 30
                while not watcher.submit(own_connection(waiting_on_a_lock)).result() and time.monotonic() < deadline:
                    time.sleep(0.05)
            second_waits.set()
            first.result(60)
            status, said = second.result(60)
            assert status == 200 and "You rated Double Click (2024) 4.5 stars" in said
            reviews = pool.submit(own_connection(lambda: list(Review.objects.filter(item=item).values_list(
                "rating", flat=True)))).result()
            assert reviews == [Decimal("4.5")]  # one review, with the later click's rating
            assert pool.submit(own_connection(_item, item.pk)).result() == (1, Decimal("4.5"))
        finally:
            pool.submit(own_connection(lambda: (Item.objects.filter(pk=item.pk).delete(),
                                                 User.objects.filter(username="double-click").delete()))).result()


def test_admin_lists_and_sorts_items_by_their_ratings(ml100k, admin_client):
    from django.contrib import admin

    column = admin.site._registry[Item].list_display.index("ratings") + 1  # ?o= counts from 1
    rows = admin_client.get("/admin/catalog/item/", {"o": str(column)}).content.decode()
    star_wars = Item.objects.get(external_id="ml:50")
    first = rows[rows.index('<tbody>'):].split("</tr>")[0]
    assert "Star Wars" in first and f"★ {star_wars.avg_rating:.1f} (583)" in first
    change = admin_client.get(f"/admin/catalog/item/{star_wars.pk}/change/").content.decode()
    assert "(583)" in change and 'name="review_count"' not in change  # shown, not editable


def test_the_rating_histogram_counts_visible_reviews_by_whole_stars(ml100k, client):
    from catalog.selectors import item_rating_histogram

    star_wars = Item.objects.get(slug="star-wars-1977")
    histogram = item_rating_histogram(item=star_wars)
    assert [stars for stars, _n, _share in histogram] == [5, 4, 3, 2, 1]
    ratings = list(Review.objects.filter(item=star_wars, is_hidden=False).values_list("rating", flat=True))
    expected = [sum(1 for r in ratings if max(int(r), 1) == stars) for stars in range(5, 0, -1)]
    assert [n for _s, n, _share in histogram] == expected
    assert sum(n for _s, n, _share in histogram) == star_wars.review_count
    assert sum(share for *_rest, share in histogram) == pytest.approx(1.0)
    # half stars go with the whole star below (0.5 with 1); hidden reviews are not counted
    item = services.item_create(title="Half Measures", year=2001)
    for name, rating in [("h1", "4.5"), ("h2", "0.5"), ("h3", "5"), ("h4", "2")]:
        services.review_save(user=User.objects.create_user(name), item=item, rating=rating)
    Review.objects.filter(item=item, rating=Decimal("2")).update(is_hidden=True)
    assert item_rating_histogram(item=item) == [(5, 1, 1 / 3), (4, 1, 1 / 3), (3, 0, 0), (2, 0, 0), (1, 1, 1 / 3)]
    assert item_rating_histogram(item=services.item_create(title="Nobody Saw It", year=2001)) == []
    page = client.get(f"/items/{star_wars.slug}/").content.decode()
    five = histogram[0]
    assert f"{round(five[2] * 100)}% <small>({five[1]})</small>" in page
