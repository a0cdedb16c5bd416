"""Embedding throughput: plain PyTorch fp32 SentenceTransformer vs the project's pipeline
(``get_encoder()`` + bulk upsert into pgvector via ``embed_rows``), on the same texts.

The texts are the MovieLens item documents, copied ``--copies`` times as scratch items
(inactive, ``external_id`` ``bench:...``, with the originals' knowledge-graph relations) whose
titles carry a number so every text is distinct. The scratch items and their vectors are
deleted at the end. Each rep times, back to back and alternating the order: the baseline
(fp32 encode only), the pipeline (texts written to the database, in ``EMBED_BATCH_SIZE`` chunks
as the Celery task does) and the project's encoder alone (to show what the database costs).
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.common import median

NAME = "embed_throughput"
PREFIX = "bench:"
RATIO_GOAL = 2.0
COSINE_GOAL = 0.99


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--copies", type=int, default=3, help="copies of the 1,682 item texts (default 3)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    parser.add_argument("--descriptions", type=int, default=0,
                        help="give each text a description of N other items' titles and genres (longer texts)")
    parser.add_argument("--overlap-queries", type=int, default=500, help="query items for top-10 overlap")


def cleanup() -> int:
    from django.db import connection

    from catalog.models import Item

    deleted, _ = Item.objects.filter(external_id__startswith=PREFIX).delete()
    with connection.cursor() as cursor:  # drop the dead tuples from the HNSW index too
        cursor.execute("VACUUM ANALYZE recommender_itemembedding")
    return deleted


def _scratch_items(copies: int, descriptions: int = 0) -> list[int]:
    """Inactive copies of every item, relations included; their ids in creation order."""
    from django.db import transaction

    from catalog.models import Item, ItemRelation

    run = uuid.uuid4().hex[:8]
    originals = list(Item.objects.order_by("pk"))
    relations: dict[int, list[tuple[str, int]]] = {}
    for item_id, relation, entity_id in ItemRelation.objects.values_list("item_id", "relation", "entity_id"):
        relations.setdefault(item_id, []).append((relation, entity_id))
    new: list[Item] = []
    sources: list[int] = []
    rng = np.random.default_rng(1)
    for copy in range(copies):
        for item in originals:
            n = len(new) + 1
            description = item.description
            if descriptions:
                others = [originals[i] for i in rng.choice(len(originals), descriptions, replace=False)]
                description = "Like " + "; ".join(f"{o.title}, {' and '.join(o.genres)}" for o in others) + "."
            new.append(Item(
                external_id=f"{PREFIX}{run}:{n}", slug=f"bench-{run}-{n}", title=f"{item.title} #{copy + 1}",
                description=description, genres=item.genres, tags=item.tags, year=item.year, is_active=False,
            ))
            sources.append(item.pk)
    with transaction.atomic():  # bulk_create sends no post_save: nothing is queued
        Item.objects.bulk_create(new, batch_size=2000)
        ItemRelation.objects.bulk_create(
            [ItemRelation(item_id=item.pk, relation=r, entity_id=e)
             for item, src in zip(new, sources, strict=True) for r, e in relations.get(src, [])],
            batch_size=5000,
        )
    return [item.pk for item in new]


def _topk(x: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    s = x[queries] @ x.T
    s[np.arange(len(queries)), queries] = -np.inf  # not itself
    part = np.argpartition(-s, k, axis=1)[:, :k]
    return part


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from django.conf import settings
    from sentence_transformers import SentenceTransformer

    from recommender.embedding import _item_documents, embed_many
    from recommender.encoder import _model_source, backend_name, get_encoder, model_name
    from recommender.models import ItemEmbedding

    cleanup()
    ids = _scratch_items(args.copies, args.descriptions)
    try:
        documents = _item_documents(ids)
        texts = [documents[pk] for pk in ids]
        encoder = get_encoder()
        pipeline_model = encoder.model  # loads (and exports once) the configured backend
        baseline_model = SentenceTransformer(_model_source(model_name()), device="cpu")
        for model in (baseline_model, pipeline_model):  # warm-up
            model.encode(texts[:128], batch_size=64, show_progress_bar=False)

        def baseline() -> tuple[float, np.ndarray]:
            t0 = time.perf_counter()
            vectors = baseline_model.encode(texts, batch_size=64, show_progress_bar=False)
            return time.perf_counter() - t0, vectors

        def encode_only() -> tuple[float, None]:
            t0 = time.perf_counter()
            encoder.encode(texts)
            return time.perf_counter() - t0, None

        def pipeline() -> tuple[float, None]:
            t0 = time.perf_counter()  # the `embed` command's path: encode and write overlap
            embed_many(kind="item", ids=ids, force=True, batch_size=settings.EMBED_BATCH_SIZE)
            return time.perf_counter() - t0, None

        times: dict[str, list[float]] = {"baseline": [], "pipeline": [], "encode_only": []}
        fp32 = np.zeros((0, 0), dtype=np.float32)
        with tqdm(total=3 * args.reps * len(texts), desc="embed (baseline, pipeline, encode only)", unit="text") as bar:
            for rep in range(args.reps):
                order = [("baseline", baseline), ("pipeline", pipeline), ("encode_only", encode_only)]
                for name, fn in order if rep % 2 == 0 else order[::-1]:
                    seconds, vectors = fn()
                    times[name].append(seconds)
                    if vectors is not None:
                        fp32 = vectors
                    bar.update(len(texts))
                    bar.set_postfix_str(f"{name} {len(texts) / seconds:.0f} texts/s")

        stored = dict(ItemEmbedding.objects.filter(item_id__in=ids).values_list("item_id", "vector"))
        written = np.stack([np.asarray(stored[pk], dtype=np.float32) for pk in ids])
        fp32 = fp32 / np.linalg.norm(fp32, axis=1, keepdims=True)
        cosines = np.sum(fp32 * written, axis=1)

        # top-10 neighbour overlap among the first copy (1,682 distinct movies)
        first = len(ids) // args.copies
        rng = np.random.default_rng(0)
        queries = rng.choice(first, size=min(args.overlap_queries, first), replace=False)
        a, b = _topk(fp32[:first], queries), _topk(written[:first], queries)
        overlap = float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b, strict=True)]))

        base_rate = [len(texts) / t for t in times["baseline"]]
        pipe_rate = [len(texts) / t for t in times["pipeline"]]
        lengths = [len(t) for t in texts]
        return {
            "texts": len(texts),
            "text_chars_median": int(median(lengths)),
            "reps": args.reps,
            "backend": backend_name(),
            "torch_threads": torch.get_num_threads(),
            "embed_batch_size": settings.EMBED_BATCH_SIZE,
            "baseline_texts_per_s": [round(r, 1) for r in base_rate],
            "pipeline_texts_per_s": [round(r, 1) for r in pipe_rate],
            "baseline_median": round(median(base_rate), 1),
            "pipeline_median": round(median(pipe_rate), 1),
            "ratio": round(median(pipe_rate) / median(base_rate), 2),
            "encode_only_median": round(median(len(texts) / t for t in times["encode_only"]), 1),
            "ratio_per_rep": [round(p / b, 2) for p, b in zip(pipe_rate, base_rate, strict=True)],
            "ratio_goal": RATIO_GOAL,
            "mean_cosine": round(float(cosines.mean()), 4),
            "min_cosine": round(float(cosines.min()), 4),
            "cosine_goal": COSINE_GOAL,
            "top10_overlap": round(overlap, 4),
            "overlap_queries": len(queries),
        }
    finally:
        cleanup()


def summary(r: dict[str, Any]) -> list[str]:
    met = "met" if r["ratio"] >= RATIO_GOAL else "NOT met"
    cos = "met" if r["mean_cosine"] >= COSINE_GOAL else "NOT met"
    return [
        f"{r['texts']:,} texts, median {r['reps']} reps: fp32 torch {r['baseline_median']} texts/s, "
        f"pipeline ({r['backend']} + pgvector upsert) {r['pipeline_median']} texts/s -> {r['ratio']}x "
        f"(goal >= {RATIO_GOAL}x: {met}; per rep {r['ratio_per_rep']}); "
        f"{r['backend']} encode only {r['encode_only_median']} texts/s",
        f"mean cosine to fp32 {r['mean_cosine']} (min {r['min_cosine']}; goal >= {COSINE_GOAL}: {cos}), "
        f"top-10 neighbour overlap {r['top10_overlap']} over {r['overlap_queries']} queries",
    ]
