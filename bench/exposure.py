"""An item's exposure on a busy shop: the item admin's "shown in recommendations (30 days)" (each
film's impressions and clicks per row, ``selectors.item_exposure``) and the item list's "shown /
not shown" filter, on ``--events`` synthetic impressions of the last 30 days (one click in 25)
spread over 500 films by a Zipf law (the most shown film gets about a sixth). Baselines in the same
run, alternating: the same item page without the exposure field (the catalog's own ``ItemAdmin``)
and the item list without the filter. The events are deleted at the end.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tqdm import tqdm

from bench.common import median

NAME = "exposure"
SESSION = "bench-exposure-"
FILMS = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=1_000_000, help="synthetic impressions inserted (default 1M)")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of each page")


def _insert(n: int, films: list[int]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # film rank r (1-based) gets a share 1/r of H(500) ~ 6.8
        cursor.execute(
            """
            INSERT INTO catalog_event (user_id, session_key, item_id, kind, value, context, created_at)
            SELECT NULL, %s || (g / 12),
                   (%s::int[])[least(%s, floor(exp(random() * ln(%s + 1)))::int)],
                   CASE WHEN g %% 25 = 0 THEN 'click' ELSE 'impression' END, NULL,
                   jsonb_build_object('src', (ARRAY['for_you', 'trending', 'similar', 'new'])[1 + g %% 4],
                                      'pos', 1 + g %% 12),
                   now() - make_interval(secs => (g::bigint * 2592000 / %s)::int)
            FROM generate_series(1, %s) AS g
            """,
            [SESSION, films, len(films), len(films), n, n],
        )
        cursor.execute("ANALYZE catalog_event")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.test import Client

    from catalog.admin import ItemAdmin
    from catalog.models import Event, Item

    films = list(Item.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)[:FILMS])
    staff = get_user_model().objects.create_superuser("bench-exposure", password=None)
    client = Client()
    client.force_login(staff)
    _insert(args.events, films)
    try:
        counts = (Event.objects.filter(session_key__startswith=SESSION, kind="impression").values("item_id")
                  .annotate(n=Count("id")).order_by("-n"))
        busiest, middle = counts[0], counts[len(films) // 2]
        served, plain = admin.site._registry[Item], ItemAdmin(Item, admin.site)  # with the field, without
        request = client.get("/admin/").wsgi_request  # a signed-in staff request, for the admins' own views

        def page(pk: int, model_admin: Any) -> Any:
            return model_admin.change_view(request, str(pk)).render()

        cases = {
            "item page, busiest film": lambda: page(busiest["item_id"], served),
            "item page without exposure, busiest film": lambda: page(busiest["item_id"], plain),
            "item page, median film": lambda: page(middle["item_id"], served),
            "item list": lambda: client.get("/admin/catalog/item/"),
            "item list, not shown": lambda: client.get("/admin/catalog/item/", {"shown": "no"}),
            "item list, shown": lambda: client.get("/admin/catalog/item/", {"shown": "yes"}),
        }
        for case in cases.values():  # warm
            assert case().status_code == 200
        seconds: dict[str, list[float]] = {name: [] for name in cases}
        for n in tqdm(range(args.rounds), desc=NAME, unit="round"):
            for name, case in (list(cases.items()) if n % 2 else list(cases.items())[::-1]):
                t0 = time.perf_counter()
                case()
                seconds[name].append(time.perf_counter() - t0)
    finally:
        Event.objects.filter(session_key__startswith=SESSION, user=None).delete()
        staff.delete()
    p50 = {name: round(1000 * median(values), 1) for name, values in seconds.items()}
    return {
        "events": args.events, "rounds": args.rounds, "films": len(films), "p50_ms": p50,
        "busiest_impressions": busiest["n"], "median_impressions": middle["n"],
        "ratios": {"item page / without exposure": round(p50["item page, busiest film"]
                                                         / p50["item page without exposure, busiest film"], 2),
                   "not shown / list": round(p50["item list, not shown"] / p50["item list"], 2),
                   "shown / list": round(p50["item list, shown"] / p50["item list"], 2)},
    }


def summary(result: dict[str, Any]) -> list[str]:
    return [f"{name}: p50 {ms} ms" for name, ms in result["p50_ms"].items()] + [
        f"{name}: {ratio}x" for name, ratio in result["ratios"].items()] + [
        f"{result['events']:,} impressions over {result['films']} films; the busiest has "
        f"{result['busiest_impressions']:,}, the median {result['median_impressions']:,}"]
