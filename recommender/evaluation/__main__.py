"""``python -m recommender.evaluation``: evaluate the recommenders offline and write JSON.

Example::

    python -m recommender.evaluation --dataset ml-100k --protocol recbole --k 10 --json var/eval.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from catalog.datasets import Dataset, DatasetError, load_csv, load_movielens_100k, recbole_wheel
from recommender.algorithms.data import Interactions

from . import runner
from .embeddings import item_embeddings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m recommender.evaluation", description=__doc__.split("\n")[0])
    source = p.add_mutually_exclusive_group()
    source.add_argument("--dataset", choices=["ml-100k"], default=None, help="a built-in dataset (default ml-100k)")
    source.add_argument("--ratings", type=Path, help="ratings CSV (user_id,item_id,rating,timestamp)")
    p.add_argument("--items", type=Path, help="items CSV (item_id,title,genres,description), with --ratings")
    p.add_argument("--protocol", choices=["recbole", "temporal"], default="recbole")
    p.add_argument("--models", default=",".join(runner.ALL_MODELS),
                   help=f"comma-separated, from {','.join(runner.ALL_MODELS)}")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--threads", type=int, default=None,
                   help="threads for ALS/BPR/LightGBM (default: $RECSITE_THREADS or 1)")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("RECSITE_DATA_DIR", "var/data")))
    p.add_argument("--skip", default="", help="comma-separated parts to skip: rating,cold_start,fairness")
    p.add_argument("--no-embeddings", action="store_true", help="no sentence embeddings (content models off)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def load(args: argparse.Namespace) -> Dataset:
    if args.ratings:
        return load_csv(args.ratings, args.items)
    return load_movielens_100k(recbole_wheel(args.data_dir))


def run(args: argparse.Namespace) -> dict[str, Any]:
    progress = not args.quiet
    started = time.perf_counter()
    dataset = load(args)
    data = Interactions.from_ratings(dataset.ratings, all_items=dataset.items)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(runner.ALL_MODELS) - {"trending"})
    if unknown:
        raise SystemExit(f"unknown models: {', '.join(unknown)}")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    vectors = None
    if not args.no_embeddings and dataset.items:
        vectors = item_embeddings(dataset, data.item_ids)
    side_info: dict[str, Any] = {"item_vectors": vectors, "kg": runner.knowledge(dataset)}
    if vectors is None:
        names = [n for n in names if n != "content"]
    if not side_info["kg"]:
        names = [n for n in names if n != "kg"]
    split = runner.make_split(data, args.protocol, args.seed)
    fitted = runner.fit_models(names, split, side_info, seed=args.seed, num_threads=args.threads,
                               progress=progress)
    genres = [dataset.items[i].genres if i in dataset.items else () for i in data.item_ids]
    similarity = runner.item_similarity(genres, vectors)
    result: dict[str, Any] = {
        "dataset": dataset.name, "protocol": args.protocol, "k": args.k, "seed": args.seed,
        "n_users": data.n_users, "n_items": data.n_items, "n_interactions": len(data),
        "split": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
        "models": runner.evaluate_models(fitted, names, split, args.k, similarity=similarity, progress=progress),
        # every model fitted once (the hybrid reuses its components): wall and CPU seconds
        "train_seconds_total": round(sum(fitted.seconds.values()), 2),
        "train_cpu_seconds_total": round(sum(fitted.cpu_seconds.values()), 2),
    }
    if "rating" not in skip:
        result["rating"] = runner.rating_cv(data, seed=args.seed, progress=progress)
    if "cold_start" not in skip and "hybrid" in names:
        result["cold_start"] = runner.cold_start_report(split, side_info, args.k, seed=args.seed,
                                                        num_threads=args.threads, progress=progress)
    if "fairness" not in skip and "hybrid" in names:
        result["fairness"] = runner.fairness_tradeoff(fitted.models["hybrid"], split, args.k, progress=progress)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _table(result: dict[str, Any]) -> str:
    cols = ["ndcg", "recall", "precision", "mrr", "hit", "coverage", "gini", "novelty", "ild", "train_seconds"]
    lines = [f"{'model':<9}" + "".join(f"{c.replace('train_seconds', 'fit_s'):>10}" for c in cols)]
    for name, row in result["models"].items():
        lines.append(f"{name:<9}" + "".join(f"{row.get(c, float('nan')):>10.4f}" for c in cols))
    lines.append(f"training, all models: {result['train_seconds_total']:.1f} s wall, "
                 f"{result['train_cpu_seconds_total']:.1f} s CPU")
    if "rating" in result:
        rating = result["rating"]
        lines.append(f"rating (BPMF, 5-fold CV): RMSE {rating['rmse']:.4f}  MAE {rating['mae']:.4f}")
    for name, row in result.get("cold_start", {}).items():
        lines.append(f"cold start {name}: NDCG@{result['k']} {row['ndcg']:.4f} ({row['users']} users)")
    for method, rows in result.get("fairness", {}).items():
        for row in rows:
            lines.append(f"fairness ({method}) strength {row['strength']:.2f}: NDCG {row['ndcg']:.4f} "
                         f"({row['ndcg_change']:+.1%})  Gini {row['gini']:.4f} ({row['gini_change']:+.1%})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="implicit")
    warnings.filterwarnings("ignore", message=".*OpenBLAS.*")
    try:
        result = run(args)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=_plain) + "\n")
        print(f"wrote {args.json}")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")


if __name__ == "__main__":
    raise SystemExit(main())
