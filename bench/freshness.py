"""Freshness: how long after ``catalog.services.item_create`` commits does the new item come
back from a similarity query? A real, idle Celery worker (subprocess, concurrency 1, queue
``CELERY_QUEUE``, ``bench-fresh`` by default) embeds it via the ``items_changed`` receiver; the
benchmark polls ``recommender.selectors.items_nearest`` with the item's own vector (encoded
in this process with the same encoder) until the item is the top hit.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.common import ROOT, ms, percentile, var_dir

NAME = "freshness"
P95_GOAL_S = 2.0
PREFIX = "bench:fresh-"
GENRES = ["Drama", "Comedy", "Thriller", "Sci-Fi", "Romance", "Animation", "Documentary", "Western"]
WORDS = [
    "lighthouse", "keeper", "orbit", "detective", "violin", "desert", "heist", "winter", "robot", "garden",
    "river", "pilot", "chef", "island", "archive", "tunnel", "monsoon", "chess", "circus", "glacier",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0, help="give up on one item after this many seconds")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between similarity queries")


class Worker:
    """``celery worker`` on the bench queue, in its own process group (as tests/conftest.py)."""

    def __init__(self, queue: str, log: Path) -> None:
        self.queue, self.log = queue, log
        self.name = f"bench-{os.getpid()}@{os.uname().nodename}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from recsite.celery import app

        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "recsite.settings", "CELERY_QUEUE": self.queue}
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "recsite", "worker", "--loglevel", "INFO",
                 "--concurrency", "1", "--pool", "prefork", "-Q", self.queue,
                 "--without-gossip", "--without-mingle", "-n", f"bench-{os.getpid()}@%h"],
                cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"worker did not answer pings; see {self.log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def cleanup() -> int:
    from catalog.models import Item

    return Item.objects.filter(external_id__startswith=PREFIX).delete()[0]


def _trial(run: str, n: int, timeout: float, poll: float) -> dict[str, float] | None:
    """Create one item; seconds until items_nearest(own vector) returns it first."""
    from catalog.services import item_create
    from recommender.documents import item_document
    from recommender.encoder import get_encoder
    from recommender.models import ItemEmbedding
    from recommender.selectors import items_nearest

    rnd = random.Random(n)
    fields: dict[str, Any] = {
        "title": f"Bench freshness {run} {n}: the {' '.join(rnd.sample(WORDS, 3))}",
        "description": " ".join(rnd.choices(WORDS, k=40)).capitalize() + ".",
        "genres": rnd.sample(GENRES, 2),
        "year": rnd.randint(1950, 2025),
    }
    vector = get_encoder().encode([item_document(**fields)])[0]
    t0 = time.perf_counter()
    item = item_create(external_id=f"{PREFIX}{run}-{n}", **fields)  # commits; the receiver queues the task
    committed = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        hits = items_nearest(vector, k=1)
        if hits and hits[0][0].pk == item.pk:
            seen = time.perf_counter()
            row = ItemEmbedding.objects.filter(item=item).values_list("embedded_at", flat=True).first()
            worker = (row - item.created_at).total_seconds() if row else float("nan")
            return {"total": seen - t0, "create": committed - t0, "saved_to_vector": worker}
        time.sleep(poll)
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings

    from recsite.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    if queue == "recsite":
        raise RuntimeError("run with CELERY_QUEUE=bench-fresh (python -m bench sets it) to keep off the real queue")
    cleanup()
    app.control.purge()
    log = var_dir() / "bench" / "freshness-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = Worker(queue, log)
    worker.start()
    run_id = uuid.uuid4().hex[:6]
    results: list[dict[str, float]] = []
    misses = 0
    try:
        if _trial(run_id, 0, 120.0, args.poll) is None:  # warm-up: the pool loads the model
            raise RuntimeError(f"warm-up item never became visible; see {log}")
        for n in tqdm(range(1, args.trials + 1), desc="freshness", unit="item"):
            time.sleep(random.uniform(0.5, 1.0))  # the worker is idle again
            result = _trial(run_id, n, args.timeout, args.poll)
            if result is None:
                misses += 1
            else:
                results.append(result)
    finally:
        worker.stop()
        app.control.purge()
        cleanup()
    total = [r["total"] for r in results]
    if not total:
        raise RuntimeError(f"no item became visible within {args.timeout} s; see {log}")
    p95 = percentile(total, 95)
    return {
        "queue": queue,
        "trials": args.trials,
        "misses": misses,
        "p50_ms": ms(percentile(total, 50)),
        "p95_ms": ms(p95),
        "max_ms": ms(max(total)),
        "create_commit_p50_ms": ms(percentile([r["create"] for r in results], 50)),
        "saved_to_vector_written_p50_ms": ms(percentile([r["saved_to_vector"] for r in results], 50)),
        "p95_goal_ms": P95_GOAL_S * 1000,
        "goal_met": misses == 0 and p95 <= P95_GOAL_S,
        "all_ms": [ms(t) for t in total],
    }


def summary(r: dict[str, Any]) -> list[str]:
    return [
        f"{r['trials']} items: visible to items_nearest after p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, "
        f"max {r['max_ms']} ms, {r['misses']} misses (goal p95 <= {r['p95_goal_ms']:.0f} ms: "
        f"{'met' if r['goal_met'] else 'NOT met'}); item_create p50 {r['create_commit_p50_ms']} ms, "
        f"save -> vector written p50 {r['saved_to_vector_written_p50_ms']} ms",
    ]
