"""Rating statistics stored on the item (kept by triggers, migration catalog 0005) against
aggregating the visible reviews on every read (the code before it), in the same run, alternating:
the browse page's query (its first page by popularity and by Bayesian rating) and the
price on writes: ``review_save`` with the triggers against the same call with them disabled,
each in a rolled-back transaction (nothing is written). No goal: a reference.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from tqdm import tqdm

from bench.common import median, ms, timed

NAME = "rating_stats"
PAGE = 24
TRIGGERS = ("catalog_review_rating_stats_insert", "catalog_review_rating_stats_update")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--user", default="ml_1", help="rates an item it has not rated, then rolls back")


def _aggregated(sort: str) -> list:
    """The browse page's first page as before migration catalog 0005: the reviews aggregated."""
    from django.db import models
    from django.db.models import Avg, Count, F, Q, Sum, Value

    from catalog.models import Item, Review
    from catalog.selectors import PRIOR_RATINGS

    visible = Q(reviews__is_hidden=False)
    items = Item.objects.active().annotate(avg=Avg("reviews__rating", filter=visible),
                                           n=Count("reviews", filter=visible))
    if sort == "rating":
        mean = Review.objects.filter(is_hidden=False).aggregate(mean=Avg("rating"))["mean"] or 0
        prior = Value(Decimal(PRIOR_RATINGS) * Decimal(mean), output_field=models.DecimalField())
        total = Sum("reviews__rating", filter=visible, output_field=models.DecimalField())
        items = items.annotate(score=models.ExpressionWrapper(
            (total + prior) / (Count("reviews", filter=visible) + PRIOR_RATINGS), output_field=models.FloatField()))
        return list(items.order_by(F("score").desc(nulls_last=True), "-n", "id")[:PAGE])
    return list(items.order_by("-n", "title", "id")[:PAGE])


def _stored(sort: str) -> list:
    from django.db.models import F

    from catalog import selectors

    items = selectors.item_list()
    if sort == "rating":
        return list(selectors.with_rating_score(items)
                    .order_by(F("rating_score").desc(nulls_last=True), "-review_count", "id")[:PAGE])
    return list(items.order_by("-review_count", "title", "id")[:PAGE])


def _write(user: Any, item: Any, *, triggers: bool) -> float:
    from django.db import connection, transaction

    from catalog import services

    times: list[float] = []
    with transaction.atomic():
        if not triggers:
            with connection.cursor() as cursor:
                for name in TRIGGERS:
                    cursor.execute(f"ALTER TABLE catalog_review DISABLE TRIGGER {name}")
        timed(times, services.review_save, user=user, item=item, rating=4)
        transaction.set_rollback(True)
    return times[0]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from catalog.models import Item

    user = get_user_model().objects.get(username=args.user)
    item = Item.objects.active().exclude(reviews__user=user).order_by("-review_count").first()
    sorts = ("popular", "rating")
    for sort in sorts:  # the same items either way
        assert [i.pk for i in _aggregated(sort)] == [i.pk for i in _stored(sort)], sort
    reads: dict[str, list[float]] = {f"{how}_{sort}": [] for how in ("aggregated", "stored") for sort in sorts}
    writes: dict[str, list[float]] = {"with_triggers": [], "without_triggers": []}
    for n in tqdm(range(args.rounds), desc=NAME, unit="round"):
        order = (("aggregated", _aggregated), ("stored", _stored))
        for how, read in order if n % 2 else order[::-1]:
            for sort in sorts:
                timed(reads[f"{how}_{sort}"], read, sort)
        for triggers in (n % 2 == 0, n % 2 == 1):
            writes["with_triggers" if triggers else "without_triggers"].append(_write(user, item, triggers=triggers))
    p50 = {name: ms(median(values)) for name, values in {**reads, **writes}.items()}
    return {
        "rounds": args.rounds, "reviews": sum(Item.objects.values_list("review_count", flat=True)), "p50_ms": p50,
        "read_speedup": {sort: round(p50[f"aggregated_{sort}"] / p50[f"stored_{sort}"], 2) for sort in sorts},
        "write_ratio": round(p50["with_triggers"] / p50["without_triggers"], 2),
    }


def summary(result: dict[str, Any]) -> list[str]:
    p50 = result["p50_ms"]
    lines = [f"first page by {sort}: aggregated {p50[f'aggregated_{sort}']} ms, stored {p50[f'stored_{sort}']} ms "
             f"({speedup}x)" for sort, speedup in result["read_speedup"].items()]
    return [*lines, f"review_save: {p50['with_triggers']} ms with the triggers, {p50['without_triggers']} ms "
                    f"without ({result['write_ratio']}x)"]
