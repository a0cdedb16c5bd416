"""What a film's audience costs (MovieLens-100K, the trained model): weighing every trained
shopper in one batched pass (``Hybrid.item_audience``), and the admin page's whole request (that
pass, the live exclusions and 50 explained cards), against the baseline of asking the model
shopper by shopper (``recommend_explained_also`` with the film, the feed's own scoring pass);
rounds interleaved, for a popular and a little-rated film. Also the pass for a film newer than
the model (``Hybrid.new_item_audience``: each shopper's pool, then the place its vector and
facts earn), with each film's own vector and facts standing in for a new film's.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tqdm import tqdm

from bench.common import median, ms

NAME = "audience"
POOL = 100  # as serving's candidate pool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each times every case once)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from catalog.models import Item
    from recommender import serving
    from recommender.audience import audience

    _version, model = serving.active_model()
    if model is None:
        raise RuntimeError("no trained model: manage.py train")
    films = [Item.objects.get(title="Contact", year=1997),  # 509 of 943 shoppers rated it
             Item.objects.filter(review_count__gte=20).order_by("review_count", "pk").first()]
    shoppers = model.data.n_users

    def one_by_one(idx: int) -> None:
        for user in range(shoppers):
            model.recommend_explained_also(user, k=POOL, also=[idx])

    def as_new(idx: int) -> None:
        kg = model.components["kg"]
        model.new_item_audience(model.components["content"].item_vectors[idx],
                                [kg.features[c] for c in kg.incidence[idx].indices], k=POOL)

    cases = {"one shopper at a time (baseline)": lambda item: one_by_one(model.index_of_pk[item.pk]),
             "batched pass (item_audience)": lambda item: model.item_audience(model.index_of_pk[item.pk]),
             "a new film's pass (new_item_audience)": lambda item: as_new(model.index_of_pk[item.pk]),
             "admin page (pass, exclusions, 50 cards)": lambda item: audience(item, limit=50)}
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in tqdm(range(args.rounds), desc=NAME, unit="round"):
        for name, case in cases.items():
            t0 = time.perf_counter()
            for film in films:
                case(film)
            seconds[name].append((time.perf_counter() - t0) / len(films))
    base = median(seconds["one shopper at a time (baseline)"])
    return {
        "shoppers": shoppers, "films": [f.display_title for f in films], "rounds": args.rounds,
        "cases": {name: {"median_s": round(median(v), 2), "per_shopper_ms": ms(median(v) / shoppers),
                         "ratio": round(median(v) / base, 3),
                         "minutes_for_100k": round(median(v) / shoppers * 100_000 / 60, 1)}
                  for name, v in seconds.items()},
    }


def summary(result: dict[str, Any]) -> list[str]:
    return [f"{name}: {v['median_s']} s a film for {result['shoppers']} shoppers, {v['per_shopper_ms']} ms a shopper "
            f"({v['ratio']}x the baseline); 100,000 shoppers: {v['minutes_for_100k']} min"
            for name, v in result["cases"].items()]
