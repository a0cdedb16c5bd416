"""Search latency on MovieLens-100K: ``item_search`` (hybrid full-text + vector, including
encoding the query) and ``item_similar_list`` (HNSW), p50/p99 over interleaved rounds; the
same similar-items query with index scans disabled (exact scan) as the baseline.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from tqdm import tqdm

from bench.common import ms, percentile, timed

NAME = "search_latency"
FREE_TEXT = [
    "space adventure with robots", "romantic comedy in new york", "gangster film", "animated film for children",
    "war movie", "detective mystery", "courtroom drama", "horror in a haunted house", "western with outlaws",
    "musical", "alien invasion", "heist gone wrong", "coming of age story", "disaster movie", "spy thriller",
    "Hitchcock", "Tom Hanks", "Star Trek", "Disney", "film noir", "boxing", "dinosaurs", "time travel",
    "vampires", "road trip", "Shakespeare adaptation", "Christmas", "high school", "submarine", "Scorsese",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=100, help="items for item_similar_list")


def _exact_similar(item: Any) -> object:
    from django.db import connection, transaction

    from recommender.selectors import item_similar_list

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        return item_similar_list(item=item, k=10)


def _uses_index(item: Any) -> bool:
    """Whether the planner picks the HNSW index for items_nearest (it may not on a small catalog)."""
    from pgvector.django import CosineDistance

    from catalog.models import Item
    from recommender.models import ItemEmbedding
    from recommender.selectors import item_vector

    vector = item_vector(item)
    plan = (
        ItemEmbedding.objects.filter(item__in=Item.objects.filter(is_active=True)).exclude(item_id=item.pk)
        .annotate(distance=CosineDistance("vector", vector)).order_by("distance")[:10].explain()
    )
    return "hnsw" in plan


def run(args: argparse.Namespace) -> dict[str, Any]:
    from catalog.models import Item
    from recommender.encoder import get_encoder
    from recommender.selectors import item_search, item_similar_list

    rng = random.Random(0)
    items = list(Item.objects.active().filter(embedding__isnull=False).order_by("pk"))
    if not items:
        raise RuntimeError("no embedded items: run `manage.py embed` (or the demo) first")
    sample = rng.sample(items, min(args.items, len(items)))
    queries = FREE_TEXT + [item.title.split(" (")[0] for item in rng.sample(items, 30)]
    get_encoder().encode(["warm-up"])
    for item in sample[:10]:  # warm-up
        item_similar_list(item=item, k=10)
        _exact_similar(item)
    item_search(query="warm-up", k=20)

    times: dict[str, list[float]] = {"item_search": [], "item_similar_list": [], "item_similar_list_exact": []}
    n = max(len(queries), len(sample))
    with tqdm(total=args.rounds * n * 3, desc="search latency", unit="call") as bar:
        for _ in range(args.rounds):
            for i in range(n):
                q, item = queries[i % len(queries)], sample[i % len(sample)]
                timed(times["item_search"], item_search, query=q, k=20)
                timed(times["item_similar_list"], item_similar_list, item=item, k=10)
                timed(times["item_similar_list_exact"], _exact_similar, item)
                bar.update(3)
    result: dict[str, Any] = {"items": len(items), "queries": len(queries), "rounds": args.rounds}
    result["similar_plan_uses_hnsw"] = _uses_index(sample[0])
    for name, values in times.items():
        result[name] = {
            "calls": len(values), "p50_ms": ms(percentile(values, 50)), "p99_ms": ms(percentile(values, 99)),
        }
    result["similar_exact_over_hnsw_p50"] = round(
        result["item_similar_list_exact"]["p50_ms"] / result["item_similar_list"]["p50_ms"], 2
    )
    return result


def summary(r: dict[str, Any]) -> list[str]:
    parts = [f"{name} p50 {r[name]['p50_ms']} ms p99 {r[name]['p99_ms']} ms ({r[name]['calls']} calls)"
             for name in ("item_search", "item_similar_list", "item_similar_list_exact")]
    return [f"{r['items']:,} items: " + "; ".join(parts) + f"; exact/default p50 {r['similar_exact_over_hnsw_p50']}x "
            f"(planner uses the HNSW index for items_nearest: {r['similar_plan_uses_hnsw']})"]
