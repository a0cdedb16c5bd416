"""What "why not this film?" costs (MovieLens-100K, a user with history): the API's
``/api/recommendations/why-not/`` for four answers (a card in the feed, a film ranked below it,
one outside the candidates, one the user rated) and the admin's Recommendations page with a
question, p50/p99 in-process through Django's full request stack; baselines in the same run,
interleaved: the feed computed afresh without a trace (what ``feed_for_user`` does on a cache
miss) and with one (``feed_traced``), and ``/api/recommendations/`` uncached. Then a film's
reach (the item admin's page: the question asked of 40 sampled shoppers), a few times.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tqdm import tqdm

from bench.common import ms, percentile

NAME = "why_not"
K = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=100, help="rounds (each times every case once)")
    parser.add_argument("--user", default="ml_1", help="a user with history")
    parser.add_argument("--reach-rounds", type=int, default=5, help="times a film's reach (40 shoppers) is timed")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from rest_framework.test import APIClient

    from catalog.models import Item, Review
    from recommender import serving
    from recommender.diagnosis import REACH_SAMPLE, reach, why_not

    user = get_user_model().objects.get(username=args.user)
    feed, trace = serving.feed_traced(user, k=K, context=serving.FeedContext())
    _version, model = serving.active_model()
    ranked = sorted(trace.passed, key=lambda pk: -trace.scores[pk])
    shown = {rec.item.pk for rec in feed}
    history = {int(model.item_pks[e[0]]) for e in trace.state.profile.events}
    films = {
        "shown": feed[0].item.pk,
        "outranked": next(pk for n, pk in enumerate(ranked) if n >= 30 and pk not in shown),
        "not_candidate": Item.objects.active().exclude(pk__in=set(trace.scores) | history)
        .order_by("-review_count").values_list("pk", flat=True)[0],
        "rated": Review.objects.filter(user=user, is_hidden=False).values_list("item_id", flat=True)[0],
    }
    for verdict, pk in films.items():  # each case is the answer it is named for
        found = why_not(Item.objects.get(pk=pk), user=user, feed=feed, trace=trace, context=serving.FeedContext())
        assert found.verdict == verdict, (verdict, found.verdict)
    api = APIClient()
    api.force_authenticate(user)
    staff = get_user_model().objects.create_superuser("bench-why-not", password=None)  # deleted below
    admin = Client()
    admin.force_login(staff)
    admin_url = f"/admin/auth/user/{user.pk}/recommendations/"

    def fresh_feed() -> None:
        serving.feed_fresh(user, k=K, context=serving.FeedContext())

    def traced_feed() -> None:
        serving.feed_traced(user, k=K, context=serving.FeedContext())

    def recommendations() -> None:
        cache.clear()  # a cache miss, as every why-not is
        assert api.get("/api/recommendations/", {"k": K}).status_code == 200

    cases: dict[str, Any] = {"feed (no trace)": fresh_feed, "feed_traced": traced_feed,
                             "GET /api/recommendations/ (uncached)": recommendations}
    for verdict, pk in films.items():
        cases[f"why-not: {verdict}"] = lambda pk=pk: api.get("/api/recommendations/why-not/", {"item": pk, "k": K})
    cases["admin page, why-not: outranked"] = lambda: admin.get(admin_url, {"item": films["outranked"]})
    timings: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for case in cases.values():  # warm
            case()
        for _ in tqdm(range(args.requests), desc=NAME, unit="round"):
            for name, case in cases.items():
                t0 = time.perf_counter()
                response = case()
                timings[name].append(time.perf_counter() - t0)
                assert response is None or response.status_code == 200
        reach_s = []
        for _ in tqdm(range(args.reach_rounds), desc="reach", unit="film"):
            t0 = time.perf_counter()
            found = reach(Item.objects.get(pk=films["outranked"]))
            reach_s.append(time.perf_counter() - t0)
            assert found.users == REACH_SAMPLE
    finally:
        staff.delete()
    base = percentile(timings["feed (no trace)"], 50)
    return {
        "user": args.user, "requests": args.requests, "k": K,
        "reach": {"shoppers": REACH_SAMPLE, "rounds": args.reach_rounds, "median_s": round(percentile(reach_s, 50), 2),
                  "per_shopper_ms": ms(percentile(reach_s, 50) / REACH_SAMPLE)},
        "ms": {name: {"p50": ms(percentile(v, 50)), "p99": ms(percentile(v, 99)),
                      "ratio_p50": round(percentile(v, 50) / base, 2)} for name, v in timings.items()},
    }


def summary(result: dict[str, Any]) -> list[str]:
    reach = result["reach"]
    return [f"{name}: p50 {v['p50']} ms, p99 {v['p99']} ms ({v['ratio_p50']}x the untraced feed)"
            for name, v in result["ms"].items()] + [
        f"a film's reach over {reach['shoppers']} shoppers: median {reach['median_s']} s "
        f"({reach['per_shopper_ms']} ms a shopper), {reach['rounds']} rounds"]
