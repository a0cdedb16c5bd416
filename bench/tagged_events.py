"""Tagged events: an A/B experiment's report (``experiments.experiment_report``) and a promotion's
shown/clicked counts (the admin's ``PromotionAdmin.results``) on a large events table, through the
partial indexes on ``context->'exp'`` and ``context->'promo'`` (``catalog.models.TAGS``) against
the same queries without them (the baseline: the indexes dropped in a transaction that is rolled
back), in the same run, alternating. ``--events`` synthetic anonymous impressions and clicks
(one session per 50) are inserted first, one a second: the newest 5% are an experiment's (every
impression and click of its run, its variant sticky per session) and of those one in ten a
promotion's (one card of a ten-card feed). They are deleted at the end. No goal: the figures
size the admin's pages on a busy shop.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tqdm import tqdm

from bench.common import median

NAME = "tagged_events"
EXPERIMENT, PROMOTION = "bench-tagged", 2_000_000_000  # tags no real experiment or promotion has
SESSION = "bench-tagged-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=2_000_000, help="synthetic events inserted (default 2M)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each way")


def _insert(n: int) -> None:
    from django.db import connection

    from catalog.models import Item

    items = list(Item.objects.values_list("pk", flat=True)[:500])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO catalog_event (user_id, session_key, item_id, kind, value, context, created_at)
            SELECT NULL, %s || (g / 50), (%s::int[])[1 + g %% %s],
                   CASE WHEN (g / 100) %% 20 = 0 THEN 'click' ELSE 'impression' END, NULL,
                   CASE WHEN g <= %s THEN jsonb_build_object('src', 'for_you', 'exp', %s::text,
                            'variant', CASE WHEN (g / 50) %% 2 = 0 THEN 'a' ELSE 'b' END)
                            || CASE WHEN g %% 10 = 1 THEN jsonb_build_object('promo', %s::bigint) ELSE '{}' END
                        ELSE jsonb_build_object('src', 'for_you', 'pos', g %% 12) END,
                   now() - make_interval(secs => g)
            FROM generate_series(1, %s) AS g
            """,
            [SESSION, items, len(items), n // 20, EXPERIMENT, PROMOTION, n],
        )
        cursor.execute("ANALYZE catalog_event")


def _timed(fn: Any, indexed: bool) -> tuple[float, str]:
    from django.db import connection, transaction

    from catalog.models import TAGS

    with transaction.atomic():
        if not indexed:
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX " + ", ".join(f"event_{name}" for name in TAGS.values()))
        t0 = time.perf_counter()
        answer = fn()
        seconds = time.perf_counter() - t0
        transaction.set_rollback(True)  # the indexes come back
    return seconds, repr(answer)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib import admin

    from catalog.models import Event
    from recommender.admin import PromotionAdmin
    from recommender.experiments import experiment_report
    from recommender.models import Experiment, Promotion

    experiment = Experiment(key=EXPERIMENT, variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
    promotion = Promotion(pk=PROMOTION, name="bench")
    results = PromotionAdmin(Promotion, admin.site).results
    queries = {"experiment_report": lambda: experiment_report(experiment),
               "promotion_results": lambda: results(promotion)}
    _insert(args.events)
    try:
        seconds: dict[str, list[float]] = {f"{name}_{way}": [] for name in queries for way in ("indexed", "scan")}
        answers: dict[str, set[str]] = {name: set() for name in queries}
        for n in tqdm(range(args.rounds), desc=NAME, unit="round"):
            ways = [("indexed", True), ("scan", False)]
            for way, indexed in ways if n % 2 else ways[::-1]:
                for name, fn in queries.items():
                    took, answer = _timed(fn, indexed)
                    seconds[f"{name}_{way}"].append(took)
                    answers[name].add(answer)
        assert all(len(seen) == 1 for seen in answers.values()), answers  # the same answers either way
    finally:
        Event.objects.filter(session_key__startswith=SESSION, user=None).delete()
    p50 = {name: round(1000 * median(values), 1) for name, values in seconds.items()}
    return {
        "events": args.events, "rounds": args.rounds, "p50_ms": p50,
        "answers": {name: seen.pop() for name, seen in answers.items()},
        "speedup": {name: round(p50[f"{name}_scan"] / p50[f"{name}_indexed"], 1) for name in queries},
    }


def summary(result: dict[str, Any]) -> list[str]:
    p50 = result["p50_ms"]
    return [f"{name}: {p50[name + '_indexed']} ms indexed, {p50[name + '_scan']} ms without the index "
            f"({speedup}x), {result['events']:,} events" for name, speedup in result["speedup"].items()]
