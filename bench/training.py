"""Training time on the database's data: ``manage.py train``'s path stage by stage (reading the
events, the hybrid's fit, the exposure prices), BPMF's fit alone, and EASE alone (with its own
lambda tuning) as the baseline of the same run: the strongest single component, what a
one-model recommender would cost. Medians over rounds; nothing is saved, no model version made.
"""

from __future__ import annotations

import argparse
from typing import Any

from tqdm import tqdm

from bench.common import median, timed

NAME = "training"
STAGES = ("read", "hybrid_fit", "exposure_prices", "bpmf_fit", "ease_fit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from recommender.algorithms.hybrid import Hybrid
    from recommender.algorithms.neighbors import EASE
    from recommender.algorithms.rating import BPMF
    from recommender.training import exposure_prices_fit, training_data

    times: dict[str, list[float]] = {stage: [] for stage in STAGES}
    with tqdm(total=args.rounds * len(STAGES), desc="training", unit="stage") as bar:
        for round_ in range(args.rounds):
            data = timed(times["read"], training_data)
            if len(data.interactions) == 0:
                raise RuntimeError("there are no interactions: run `manage.py import_movielens` first")
            bar.update()
            model = timed(times["hybrid_fit"], Hybrid(seed=0).fit, data.interactions,
                           item_vectors=data.item_vectors, kg=data.kg)
            bar.update()
            timed(times["exposure_prices"], exposure_prices_fit, model)
            bar.update()
            timed(times["bpmf_fit"], BPMF(seed=round_).fit, data.interactions)
            bar.update()
            timed(times["ease_fit"], EASE().fit, data.interactions)
            bar.update()
    result: dict[str, Any] = {
        "users": data.interactions.n_users, "items": data.interactions.n_items,
        "interactions": len(data.interactions), "rounds": args.rounds,
        "seconds": {stage: [round(t, 2) for t in values] for stage, values in times.items()},
        "median_s": {stage: round(median(values), 2) for stage, values in times.items()},
    }
    totals = [sum(times[stage][i] for stage in ("read", "hybrid_fit", "exposure_prices")) for i in range(args.rounds)]
    result["median_s"]["train_total"] = round(median(totals), 2)
    result["train_over_ease"] = round(median(totals) / median(times["ease_fit"]), 1)
    return result


def summary(r: dict[str, Any]) -> list[str]:
    m = r["median_s"]
    return [
        f"{r['users']:,} users x {r['items']:,} items, {r['interactions']:,} interactions, median of {r['rounds']}: "
        f"train {m['train_total']} s (read {m['read']}, hybrid {m['hybrid_fit']}, exposure prices "
        f"{m['exposure_prices']}); EASE alone {m['ease_fit']} s (train/EASE {r['train_over_ease']}x); "
        f"BPMF alone {m['bpmf_fit']} s"
    ]
