"""Storefront server time: the home page (personal feed, session row, trending, new arrivals,
impressions logged) and the cart page (three films, "Goes well with your cart": three
``similar_items``) for a MovieLens user with history, p50/p99 through Django's full request
stack in-process (no network); baselines in the same run: the browse page and ``feed_for_user``
alone. Goal: home p50 <= 50 ms. ``--promotion N`` runs a promotion of N films meanwhile
(position 3; deleted afterwards), to measure what featuring films costs.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tqdm import tqdm

from bench.common import ms, percentile

NAME = "storefront"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=200, help="requests per page (interleaved)")
    parser.add_argument("--user", default="ml_1", help="a user with history")
    parser.add_argument("--promotion", type=int, default=0, metavar="N",
                        help="run a promotion of N films the user has not rated (the least reviewed) meanwhile")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from catalog.models import CartLine, Event, Item
    from recommender import serving
    from recommender.models import Promotion

    user = get_user_model().objects.get(username=args.user)
    client = Client()
    client.force_login(user)
    session = client.session.session_key
    pages = {"home": "/", "browse": "/browse/", "cart": "/cart/"}
    held = set(CartLine.objects.filter(user=user).values_list("item_id", flat=True))
    added = [item for item in Item.objects.filter(external_id__in=["ml:1", "ml:50", "ml:127"]) if item.pk not in held]
    CartLine.objects.bulk_create([CartLine(user=user, item=item) for item in added])
    promotion = None
    if args.promotion:
        promotion = Promotion.objects.create(name="Benchmark", position=3)
        promotion.items.set(Item.objects.exclude(reviews__user=user).order_by("review_count", "pk")[: args.promotion])
    for url in pages.values():  # warm: model load, encoder, caches
        assert client.get(url).status_code == 200
    feed = serving.feed_for_user(user, k=12, context=serving.FeedContext(session_key=session))
    assert ("promoted" in [rec.algorithm for rec in feed]) == bool(promotion), "the promotion shows"
    timings: dict[str, list[float]] = {name: [] for name in [*pages, "feed_for_user"]}
    for _ in tqdm(range(args.requests), desc=NAME, unit="round"):
        for name, url in pages.items():
            t0 = time.perf_counter()
            response = client.get(url)
            timings[name].append(time.perf_counter() - t0)
            assert response.status_code == 200
        t0 = time.perf_counter()
        serving.feed_for_user(user, k=12, context=serving.FeedContext(session_key=session))
        timings["feed_for_user"].append(time.perf_counter() - t0)
    # the benchmark's impressions and cart are not shop activity
    Event.objects.filter(user=user, kind="impression", session_key=session).delete()
    CartLine.objects.filter(user=user, item__in=added).delete()
    if promotion is not None:
        promotion.delete()
    return {
        "user": args.user, "requests": args.requests, "promotion_films": args.promotion,
        "ms": {name: {"p50": ms(percentile(v, 50)), "p99": ms(percentile(v, 99))} for name, v in timings.items()},
        "goal_home_p50_ms": 50,
    }


def summary(result: dict[str, Any]) -> list[str]:
    m = result["ms"]
    return [f"{name}: p50 {v['p50']} ms, p99 {v['p99']} ms" for name, v in m.items()] + [
        f"home / browse p50 ratio {m['home']['p50'] / m['browse']['p50']:.2f}; goal home p50 <= 50 ms: "
        + ("met" if m["home"]["p50"] <= 50 else "not met")
    ]
