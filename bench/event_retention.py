"""Event retention (``recommender.privacy.events_prune``, daily): how fast old anonymous events and
impressions go in batches (committed one by one), against one DELETE statement of the same rows
(the baseline), in the same run, alternating. Each round first inserts ``--events`` synthetic
expired rows (anonymous views and a user's impressions, 200 days old) next to the database's
own events, which stay; the scratch account that owns the impressions is deleted at the end.
No goal: the figures size the daily job and its batch.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from tqdm import tqdm

from bench.common import median

NAME = "event_retention"
DAYS = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=200_000, help="expired rows inserted per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each way")
    parser.add_argument("--batch", type=int, action="append", default=None,
                        help="batch sizes to time (repeatable; default 1,000 and 10,000, the default)")


def _insert_expired(n: int) -> None:
    """``n`` expired rows: half anonymous views, half impressions of one account."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from catalog.models import Item

    user, _ = get_user_model().objects.get_or_create(username="bench-retention")
    items = list(Item.objects.values_list("pk", flat=True)[:500])
    old = timezone.now() - timedelta(days=200)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO catalog_event (user_id, session_key, item_id, kind, value, context, created_at)
            SELECT CASE WHEN g %% 2 = 0 THEN %s END, CASE WHEN g %% 2 = 0 THEN '' ELSE 'bench-' || (g / 20) END,
                   (%s::int[])[1 + g %% %s], CASE WHEN g %% 2 = 0 THEN 'impression' ELSE 'view' END, NULL, '{}',
                   %s - make_interval(secs => g)
            FROM generate_series(1, %s) AS g
            """,
            [user.pk, items, len(items), old, n],
        )
        cursor.execute("ANALYZE catalog_event")


def _one_statement() -> int:
    """The baseline: every expired row in one DELETE (what ``events_prune`` does, unbatched)."""
    from django.db.models import Q
    from django.utils import timezone

    from catalog.models import Event, EventKind

    cutoff = timezone.now() - timedelta(days=DAYS)
    deleted, _ = Event.objects.filter(Q(user=None) | Q(kind=EventKind.IMPRESSION), created_at__lt=cutoff).delete()
    return deleted


def run(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from django.contrib.auth import get_user_model

    from recommender.privacy import events_prune

    batches = args.batch or [1_000, 10_000]
    ways: dict[str, Any] = {"one_statement": _one_statement, **{
        f"batch_{b}": (lambda b=b: events_prune(days=DAYS, batch=b)["deleted"]) for b in batches}}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for n in tqdm(range(args.rounds), desc=NAME, unit="round"):
        order = list(ways.items())
        for name, prune in order if n % 2 else order[::-1]:
            _insert_expired(args.events)
            t0 = time.perf_counter()
            deleted = prune()
            seconds[name].append(time.perf_counter() - t0)
            assert deleted >= args.events, (name, deleted)
    get_user_model().objects.filter(username="bench-retention").delete()  # the scratch account
    p50 = {name: round(median(values), 2) for name, values in seconds.items()}
    return {
        "events": args.events, "rounds": args.rounds, "p50_s": p50,
        "rows_per_s": {name: round(args.events / s) for name, s in p50.items()},
        "ratio_to_one_statement": {name: round(s / p50["one_statement"], 2) for name, s in p50.items()},
    }


def summary(result: dict[str, Any]) -> list[str]:
    return [f"{name}: {s} s for {result['events']:,} rows ({result['rows_per_s'][name]:,} rows/s, "
            f"{result['ratio_to_one_statement'][name]}x one statement)" for name, s in result["p50_s"].items()]
