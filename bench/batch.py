"""What ``manage.py recommend`` costs (MovieLens-100K): the same sampled shoppers' lists written
as CSV and as JSON lines, against the baseline of only computing their feeds afresh
(``feed_fresh``, what the export does for each shopper), rounds interleaved; per-shopper time,
and the hours 100,000 shoppers would take at that rate on one process.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from typing import Any

from tqdm import tqdm

from bench.common import median, ms

NAME = "batch"
K = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shoppers", type=int, default=100, help="shoppers sampled (seeded)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each times every case once)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from recommender import batch, serving

    everyone = list(batch.recipients().values_list("pk", flat=True))
    ids = sorted(random.Random(0).sample(everyone, min(args.shoppers, len(everyone))))
    users = batch.recipients(ids)

    def feeds() -> None:
        for user in users:
            serving.feed_fresh(user, K, serving.FeedContext())

    cases = {"feeds only (baseline)": feeds,
             "export csv": lambda: batch.export(users, io.StringIO(), k=K, fmt="csv"),
             "export jsonl": lambda: batch.export(users, io.StringIO(), k=K, fmt="jsonl")}
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    serving.feed_fresh(users[0], K, serving.FeedContext())  # warm: the model loaded
    for _ in tqdm(range(args.rounds), desc=NAME, unit="round"):
        for name, case in cases.items():
            t0 = time.perf_counter()
            case()
            seconds[name].append(time.perf_counter() - t0)
    base = median(seconds["feeds only (baseline)"])
    return {
        "shoppers": len(ids), "rounds": args.rounds, "k": K,
        "cases": {name: {"median_s": round(median(v), 2), "per_shopper_ms": ms(median(v) / len(ids)),
                         "ratio": round(median(v) / base, 2),
                         "hours_for_100k": round(median(v) / len(ids) * 100_000 / 3600, 2)}
                  for name, v in seconds.items()},
    }


def summary(result: dict[str, Any]) -> list[str]:
    return [f"{name}: {v['median_s']} s for {result['shoppers']} shoppers, {v['per_shopper_ms']} ms a shopper "
            f"({v['ratio']}x the feeds alone); 100,000 shoppers: {v['hours_for_100k']} h"
            for name, v in result["cases"].items()]
