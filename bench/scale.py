"""Scale: a synthetic shop of ``--items`` items and ``--events`` interactions per size, each in
its own database: bulk load (COPY), training through ``model_train`` (time and peak RSS per
phase), ``feed_for_user`` / ``similar_items`` latency with the feed cache off, serving RSS.

Each phase runs in a fresh subprocess (``python -m bench.scale --worker PHASE``) against
``RECSITE_DB_NAME=recsite_scale_<items>``, so its peak RSS is its own; the dev database is
never touched. The databases are dropped at the end unless ``--keep``.

The data (see :func:`generate`): items in clusters (of uneven size) with a Zipf-like
popularity; users with a log-normal number of interactions, each with two favourite clusters
(75% of their interactions); timestamps over two years in sessions. The interactions are what
training reads: ~30% visible ratings (half steps, higher in a favourite cluster) and ~70%
purchase / add-to-cart / more-like-this events, one per (user, item). Item vectors are
synthetic clustered unit vectors (``bench.hnsw_scale.Mixture`` centres), not the text
encoder's: embedding 1M texts would take ~25 minutes on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, median, ms, percentile, var_dir

NAME = "scale"
DIM = 384
SPAN_DAYS = 730
KINDS = ("rate", "add_to_cart", "purchase", "more_like_this")  # stage code 0..3
KIND_SHARES = (0.30, 0.40, 0.25, 0.05)
FAVOURITE_SHARE = 0.75
EPOCH_2000_US = 946_684_800 * 1_000_000  # binary timestamptz counts microseconds from 2000-01-01
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
CHUNK = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", default="100000,1000000", help="catalog sizes, comma-separated")
    parser.add_argument("--events", default="1000000,10000000",
                        help="interactions per size, comma-separated (one value: the same for every size)")
    parser.add_argument("--users-per-item", type=float, default=0.1, help="users = items x this (default 0.1)")
    parser.add_argument("--feed-calls", type=int, default=200)
    parser.add_argument("--similar-calls", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases and artifacts")
    parser.add_argument("--skip-load", action="store_true", help="reuse a kept database (no drop, no load)")
    parser.add_argument("--serve-only", action="store_true",
                        help="reuse a kept database and its trained model: measure serving only")


# ------------------------------------------------------------------ memory
def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_mib() -> float:
    return round(_status_kib("VmRSS") / 1024, 1)


def peak_mib() -> float:
    return round(_status_kib("VmHWM") / 1024, 1)


def peak_reset() -> None:
    """Reset this process's peak RSS (VmHWM), so the next reading is one phase's peak."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Phase:
    """``with Phase(out, "fit"):`` records wall seconds and peak RSS of the block."""

    def __init__(self, out: dict[str, Any], name: str) -> None:
        self.out, self.name = out, name

    def __enter__(self) -> Phase:
        peak_reset()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.out[f"{self.name}_s"] = round(time.perf_counter() - self.t0, 1)
        self.out[f"{self.name}_peak_mib"] = peak_mib()


# ------------------------------------------------------------------- data
def generate(n_items: int, n_users: int, n_events: int, seed: int = 20261127) -> dict[str, np.ndarray]:
    """The synthetic interactions (sorted by user), item clusters and popularity."""
    rng = np.random.default_rng(seed)
    clusters = int(min(4000, max(16, n_items // 400)))
    cluster_weights = rng.permutation(1.0 / np.arange(1, clusters + 1) ** 0.8)
    item_cluster = rng.choice(clusters, size=n_items, p=cluster_weights / cluster_weights.sum())
    popularity = rng.permutation(1.0 / np.arange(1, n_items + 1) ** 0.9)  # Zipf-like, rank independent of id
    order = np.argsort(item_cluster, kind="stable")  # items grouped by cluster
    cum = np.cumsum(popularity[order])
    lo = np.searchsorted(item_cluster[order], np.arange(clusters), side="left")
    hi = np.searchsorted(item_cluster[order], np.arange(clusters), side="right")

    activity = rng.lognormal(0.0, 1.2, n_users)
    wanted = np.maximum(3, np.round(activity / activity.sum() * n_events * 1.5)).astype(np.int64)
    users = np.repeat(np.arange(n_users, dtype=np.int64), wanted)
    favourites = rng.choice(clusters, size=(n_users, 2), p=cluster_weights / cluster_weights.sum())
    n = len(users)
    items = np.empty(n, dtype=np.int64)
    in_fav = rng.random(n) < FAVOURITE_SHARE
    for start in range(0, n, CHUNK):
        sl = slice(start, min(n, start + CHUNK))
        m = sl.stop - sl.start
        c = favourites[users[sl], rng.integers(0, 2, m)]
        base = np.where(lo[c] > 0, cum[np.maximum(lo[c] - 1, 0)], 0.0)
        target_fav = base + rng.random(m) * (cum[np.maximum(hi[c] - 1, 0)] - base)
        pos_fav = np.clip(np.searchsorted(cum, target_fav, side="right"), lo[c], np.maximum(hi[c] - 1, lo[c]))
        pos_any = np.minimum(np.searchsorted(cum, rng.random(m) * cum[-1], side="right"), n_items - 1)
        items[sl] = order[np.where(in_fav[sl], pos_fav, pos_any)]
    # one interaction per (user, item), then exactly n_events of them at random
    key = users * n_items + items
    _, first = np.unique(key, return_index=True)
    if len(first) > n_events:
        first = np.sort(rng.choice(first, n_events, replace=False))
    users, items, in_fav = users[first], items[first], in_fav[first]
    shuffle = np.lexsort((rng.random(len(users)), users))  # random order within each user
    users, items, in_fav = users[shuffle], items[shuffle], in_fav[shuffle]

    # time: each user active from a random start for a random length, in sessions of ~5 events
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(len(users)) - starts[users]
    span = SPAN_DAYS * 86400.0
    begin = rng.uniform(0, 0.9 * span, n_users)
    length = np.minimum(span - begin, rng.uniform(0.05, 1.0, n_users) * span)
    sessions = np.maximum(1, counts // 5)
    session = np.minimum(position // 5, sessions[users] - 1)
    offset = begin[users] + session * (length[users] / sessions[users]) + (position % 5) * 120.0
    now = time.time() - 86400
    ts = (now - span + offset).astype(np.int64)
    kind = rng.choice(len(KINDS), size=len(users), p=KIND_SHARES).astype(np.int16)
    rating = np.clip(np.round(2 * (3.4 + 0.7 * in_fav + rng.normal(0, 0.9, len(users)))), 1, 10).astype(np.int16)
    return {"users": users, "items": items, "kind": kind, "rating2": rating, "ts": ts,
            "item_cluster": item_cluster, "clusters": np.array([clusters]), "popularity": popularity}


def _binary_rows(columns: list[tuple[str, str, np.ndarray]]) -> bytes:
    """Rows in PostgreSQL's binary COPY format from fixed-width numpy columns (name, dtype, values)."""
    fields = [("n", ">i2")]
    for name, dtype, values in columns:
        shape = values.shape[1:]
        fields += [(f"{name}_len", ">i4"), (name, dtype, shape) if shape else (name, dtype)]
    rec = np.empty(len(columns[0][2]), dtype=np.dtype(fields))
    rec["n"] = len(columns)
    for name, dtype, values in columns:
        rec[f"{name}_len"] = np.dtype(dtype).itemsize * int(np.prod(values.shape[1:]))
        rec[name] = values
    return rec.tobytes()


def _copy(cursor: Any, table: str, columns: list[tuple[str, str, np.ndarray]]) -> None:
    names = ", ".join(name for name, _d, _v in columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT BINARY)") as cp:
        cp.write(COPY_HEADER)
        cp.write(_binary_rows(columns))
        cp.write(COPY_TRAILER)


def _vectors(item_cluster: np.ndarray, clusters: int, start: int, stop: int) -> np.ndarray:
    from bench.hnsw_scale import Mixture

    mixture = _vectors.mixture if getattr(_vectors, "clusters", None) == clusters else Mixture(clusters)
    _vectors.mixture, _vectors.clusters = mixture, clusters  # type: ignore[attr-defined]
    rng = np.random.default_rng([3, start])
    which = item_cluster[start:stop]
    noise = rng.standard_normal((stop - start, DIM), dtype=np.float32) * mixture.spectrum
    x = mixture.centres[which] + noise * mixture.spread[which, None]
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def load(n_items: int, n_users: int, n_events: int) -> dict[str, Any]:
    """Fill the (migrated, empty) database of this process with the synthetic shop."""
    from django.db import connection

    out: dict[str, Any] = {}
    with Phase(out, "generate"):
        data = generate(n_items, n_users, n_events)
    out["interactions"] = len(data["users"])
    out["clusters"] = int(data["clusters"][0])
    t0 = time.perf_counter()
    with connection.cursor() as django_cursor:
        cur = django_cursor.cursor  # psycopg cursor
        # consistent by construction: skip per-row FK triggers during the bulk load
        cur.execute("SET session_replication_role = replica")
        cur.execute("DROP INDEX IF EXISTS item_embedding_hnsw")
        cur.execute("INSERT INTO catalog_category (name, slug, description) "
                    "SELECT 'Category ' || g, 'category-' || g, '' FROM generate_series(1, 50) g")
        first_category = cur.execute("SELECT min(id) FROM catalog_category").fetchone()[0]
        cur.execute("CREATE TEMP TABLE stage_item (id bigint, cluster bigint)")
        ids = np.arange(1, n_items + 1, dtype=np.int64)
        _copy(cur, "stage_item", [("id", ">i8", ids), ("cluster", ">i8", data["item_cluster"].astype(np.int64))])
        cur.execute(
            "INSERT INTO catalog_item (id, external_id, slug, title, description, category_id, genres, tags, "
            "attributes, year, price, image_url, is_active, created_at, updated_at) "
            "SELECT s.id, 'syn-' || s.id, 'syn-' || s.id, 'Item ' || s.id, '', %s + s.cluster %% 50, "
            "ARRAY['Category ' || (1 + s.cluster %% 50)], '{}', '{}', 1970 + s.id %% 55, 9.99, '', true, "
            "now() - interval '800 days', now() - interval '800 days' FROM stage_item s",
            [first_category])
        cur.execute("SELECT setval(pg_get_serial_sequence('catalog_item', 'id'), %s)", [n_items])
        cur.execute(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined) SELECT g, '!', false, 'scale-' || g, '', '', '', false, true, "
            "now() - interval '800 days' FROM generate_series(1, %s) g", [n_users])
        cur.execute("SELECT setval(pg_get_serial_sequence('auth_user', 'id'), %s)", [n_users])
        cur.execute(
            "INSERT INTO catalog_profile (user_id, interests, gender, occupation, demographics_consent, "
            "personalization_opt_out, onboarded) SELECT g, '', '', '', false, false, true "
            "FROM generate_series(1, %s) g", [n_users])
        out["catalog_s"] = round(time.perf_counter() - t0, 1)

        t1 = time.perf_counter()
        cur.execute("CREATE UNLOGGED TABLE stage_interaction (user_id bigint, item_id bigint, kind smallint, "
                    "rating2 smallint, created_at timestamptz)")
        for start in range(0, out["interactions"], CHUNK):
            sl = slice(start, start + CHUNK)
            _copy(cur, "stage_interaction", [
                ("user_id", ">i8", data["users"][sl] + 1), ("item_id", ">i8", data["items"][sl] + 1),
                ("kind", ">i2", data["kind"][sl]), ("rating2", ">i2", data["rating2"][sl]),
                ("created_at", ">i8", data["ts"][sl] * 1_000_000 - EPOCH_2000_US),
            ])
        out["copy_interactions_s"] = round(time.perf_counter() - t1, 1)
        t2 = time.perf_counter()
        cur.execute("INSERT INTO catalog_review (user_id, item_id, rating, text, is_hidden, created_at, updated_at) "
                    "SELECT user_id, item_id, (rating2 / 2.0)::numeric(2, 1), '', false, created_at, created_at "
                    "FROM stage_interaction WHERE kind = 0")
        kinds = " ".join(f"WHEN {code} THEN '{name}'" for code, name in enumerate(KINDS))
        cur.execute("INSERT INTO catalog_event (user_id, session_key, item_id, kind, value, context, created_at) "
                    f"SELECT user_id, '', item_id, CASE kind {kinds} END, NULL, '{{}}'::jsonb, created_at "
                    "FROM stage_interaction WHERE kind > 0")
        cur.execute("DROP TABLE stage_interaction")
        out["insert_interactions_s"] = round(time.perf_counter() - t2, 1)

        t3 = time.perf_counter()
        cur.execute("CREATE TEMP TABLE stage_vector (item_id bigint, vector vector(384))")
        clusters = out["clusters"]
        for start in range(0, n_items, 100_000):
            stop = min(n_items, start + 100_000)
            x = _vectors(data["item_cluster"], clusters, start, stop)
            head = np.zeros((len(x), 2), dtype=">i2")
            head[:, 0] = DIM
            vec = np.empty(len(x), dtype=[("head", ">i2", (2,)), ("v", ">f4", (DIM,))])
            vec["head"], vec["v"] = head, x
            rows = np.empty(len(x), dtype=[("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"),
                                           ("vec", vec.dtype)])
            rows["n"], rows["l1"], rows["id"], rows["l2"] = 2, 8, ids[start:stop], 4 + 4 * DIM
            rows["vec"] = vec
            with cur.copy("COPY stage_vector (item_id, vector) FROM STDIN WITH (FORMAT BINARY)") as cp:
                cp.write(COPY_HEADER)
                cp.write(rows.tobytes())
                cp.write(COPY_TRAILER)
        cur.execute("INSERT INTO recommender_itemembedding (item_id, vector, model_name, text_hash, embedded_at) "
                    "SELECT item_id, vector, 'synthetic', '', now() - interval '800 days' FROM stage_vector")
        out["vectors_s"] = round(time.perf_counter() - t3, 1)
        cur.execute("SET session_replication_role = DEFAULT")
    t4 = time.perf_counter()
    connection.cursor().execute("ANALYZE")
    out["analyze_s"] = round(time.perf_counter() - t4, 1)
    out["load_s"] = round(time.perf_counter() - t0, 1)
    out["load_peak_mib"] = peak_mib()
    with connection.cursor() as c:
        c.execute("SELECT pg_database_size(current_database())")
        out["database_bytes"] = c.fetchone()[0]
    return out


# ------------------------------------------------------------------ train
def train() -> dict[str, Any]:
    """``model_train`` as production runs it, with the read and fit phases timed from outside."""
    from recommender import training
    from recommender.algorithms import hybrid

    out: dict[str, Any] = {}
    real_read, real_fit = training.training_data, hybrid.Hybrid.fit

    def timed_read() -> Any:
        with Phase(out, "read"):
            return real_read()

    def timed_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with Phase(out, "fit"):
            return real_fit(self, *args, **kwargs)

    training.training_data = timed_read
    hybrid.Hybrid.fit = timed_fit  # type: ignore[method-assign]
    t0 = time.perf_counter()
    try:
        version = training.model_train(seed=0)
    finally:
        training.training_data, hybrid.Hybrid.fit = real_read, real_fit  # type: ignore[method-assign]
    out["train_s"] = round(time.perf_counter() - t0, 1)
    out["save_s"] = round(out["train_s"] - out.get("read_s", 0) - out.get("fit_s", 0), 1)
    out["peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["components"] = version.params.get("components")
    out["n_users"], out["n_items"], out["n_interactions"] = version.n_users, version.n_items, version.n_interactions
    path = Path(os.environ["RECSYS_ARTIFACT_DIR"]) / version.artifact
    out["artifact_mib"] = round(path.stat().st_size / 2**20, 1)
    return out


# ------------------------------------------------------------------ serve
def serve(feed_calls: int, similar_calls: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from catalog.models import Item
    from recommender import serving

    out: dict[str, Any] = {"rss_before_load_mib": rss_mib()}
    t0 = time.perf_counter()
    version, model = serving.active_model()
    out["model_load_s"] = round(time.perf_counter() - t0, 1)
    out["rss_after_load_mib"] = rss_mib()
    if model is None:
        raise RuntimeError("no usable active model")
    counts = np.asarray(model.data.user_counts())
    rng = np.random.default_rng(1)
    # users by activity: light (<= 20 interactions), median-ish (21-200), heavy (> 200)
    tiers = {"light": (1, 20), "medium": (21, 200), "heavy": (201, 10**9)}
    User = get_user_model()
    picked: list[tuple[str, Any]] = []
    for tier, (a, b) in tiers.items():
        pool = np.flatnonzero((counts >= a) & (counts <= b))
        chosen = rng.choice(pool, min(len(pool), feed_calls // len(tiers) + 1), replace=False) if len(pool) else []
        pks = [int(model.data.user_ids[int(u)]) for u in chosen]
        users = User.objects.in_bulk(pks)
        picked += [(tier, users[pk]) for pk in pks if pk in users]
    order = rng.permutation(len(picked))[:feed_calls]
    picked = [picked[i] for i in order]
    for _tier, user in picked[:5]:  # warm-up
        serving.feed_for_user(user, k=10)
    times: dict[str, list[float]] = {tier: [] for tier in tiers}
    for tier, user in picked:
        t = time.perf_counter()
        recs = serving.feed_for_user(user, k=10)
        times[tier].append(time.perf_counter() - t)
        if not recs:
            raise RuntimeError(f"empty feed for {user}")
    every = [x for v in times.values() for x in v]
    out["feed"] = {"calls": len(every), "p50_ms": ms(median(every)), "p99_ms": ms(percentile(every, 99)),
                   **{f"{tier}_p50_ms": ms(median(v)) for tier, v in times.items() if v},
                   **{f"{tier}_calls": len(v) for tier, v in times.items()}}
    # similar items: anchors from the popularity head, torso and tail of the training data
    pops = model.data.item_counts()
    by_pop = np.argsort(-pops, kind="stable")
    thirds = [rng.choice(part, similar_calls // 3 + 1, replace=False) for part in
              (by_pop[: max(len(by_pop) // 100, 1)], by_pop[len(by_pop) // 100: len(by_pop) // 2],
               by_pop[len(by_pop) // 2:])]
    anchors = np.concatenate(thirds)[rng.permutation(3 * (similar_calls // 3 + 1))][:similar_calls]
    items = Item.objects.in_bulk([int(model.item_pks[i]) for i in anchors])
    similar: list[float] = []
    for n, i in enumerate(anchors):
        item = items[int(model.item_pks[i])]
        t = time.perf_counter()
        serving.similar_items(item, k=10)
        if n >= 3:  # the first calls warm up
            similar.append(time.perf_counter() - t)
    out["similar"] = {"calls": len(similar), "p50_ms": ms(median(similar)), "p99_ms": ms(percentile(similar, 99))}
    out["rss_after_calls_mib"] = rss_mib()
    out["peak_mib"] = peak_mib()
    out["version"] = version.pk
    return out


# ------------------------------------------------------------- orchestration
def _sizes(args: argparse.Namespace) -> list[tuple[int, int]]:
    items = [int(float(x)) for x in str(args.items).split(",")]
    events = [int(float(x)) for x in str(args.events).split(",")]
    if len(events) == 1:
        events = events * len(items)
    if len(events) != len(items):
        raise ValueError("--events needs one value or one per --items value")
    return list(zip(items, events, strict=True))


def _env(database: str, artifacts: Path) -> dict[str, str]:
    env = dict(os.environ, RECSITE_DB_NAME=database, RECSYS_ARTIFACT_DIR=str(artifacts),
               RECSYS_FEED_CACHE_SECONDS="0", DJANGO_SETTINGS_MODULE="recsite.settings")
    return env


def _worker(phase: str, env: dict[str, str], extra: list[str], out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.scale", "--worker", phase, "--out", str(out), *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True)
    result = json.loads(out.read_text())
    result["process_s"] = round(time.perf_counter() - t0, 1)
    return result


def _drop(database: str) -> None:
    import psycopg
    from psycopg import sql

    from bench.common import pg_params
    from recsite import embedded

    with psycopg.connect(**pg_params("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    (embedded.pg_data_dir().parent / f".pg-database-{database}").unlink(missing_ok=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import shutil

    results: list[dict[str, Any]] = []
    folder = var_dir() / "bench" / "scale"
    folder.mkdir(parents=True, exist_ok=True)
    for n_items, n_events in _sizes(args):
        n_users = max(1000, int(n_items * args.users_per_item))
        database = f"recsite_scale_{n_items}"
        artifacts = folder / database / "models"
        env = _env(database, artifacts)
        row: dict[str, Any] = {"items": n_items, "users": n_users, "events_requested": n_events,
                               "database": database}
        print(f"\n--- {n_items:,} items, {n_users:,} users, {n_events:,} interactions ({database}) ---", flush=True)
        if args.serve_only:
            row["train"] = json.loads((folder / f"{database}.train.json").read_text())
            load_json = folder / f"{database}.load.json"
            if load_json.exists():
                row["load"] = json.loads(load_json.read_text())
        elif not args.skip_load:
            _drop(database)
            shutil.rmtree(artifacts, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT,
                           check=True)
            row["migrate_s"] = round(time.perf_counter() - t0, 1)
            row["load"] = _worker("load", env, ["--n-items", str(n_items), "--n-users", str(n_users),
                                                "--n-events", str(n_events)], folder / f"{database}.load.json")
            print(f"load: {row['load']}", flush=True)
        if not args.serve_only:
            row["train"] = _worker("train", env, [], folder / f"{database}.train.json")
            print(f"train: {row['train']}", flush=True)
        row["serve"] = _worker("serve", env, ["--feed-calls", str(args.feed_calls), "--similar-calls",
                                              str(args.similar_calls)], folder / f"{database}.serve.json")
        print(f"serve: {row['serve']}", flush=True)
        results.append(row)
        if not args.keep:
            _drop(database)
            shutil.rmtree(folder / database, ignore_errors=True)
    out: dict[str, Any] = {"sizes": results}
    if len(results) >= 2:
        a, b = results[0], results[-1]
        out["growth"] = _growth(a, b)
    return out


def _metrics(row: dict[str, Any]) -> dict[str, float]:
    load, train, serve = row.get("load", {}), row["train"], row["serve"]
    return {
        "interactions": float(load.get("interactions", train["n_interactions"])),
        "load_s": float(load.get("load_s", float("nan"))),
        "train_s": float(train["train_s"]), "train_peak_mib": float(train["peak_mib"]),
        "feed_p50_ms": float(serve["feed"]["p50_ms"]), "feed_p99_ms": float(serve["feed"]["p99_ms"]),
        "similar_p50_ms": float(serve["similar"]["p50_ms"]), "similar_p99_ms": float(serve["similar"]["p99_ms"]),
        "serving_rss_mib": float(serve["rss_after_load_mib"]),
    }


def _growth(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    ma, mb = _metrics(a), _metrics(b)
    out = {"items": round(b["items"] / a["items"], 2)}
    out.update({k: round(mb[k] / ma[k], 2) for k in ma if ma[k] and ma[k] == ma[k]})
    return out


def summary(r: dict[str, Any]) -> list[str]:
    lines = ["items | interactions | load s | train s (read/fit/save) | train peak MiB | feed p50/p99 ms | "
             "similar p50/p99 ms | serving RSS MiB"]
    for row in r["sizes"]:
        m, t = _metrics(row), row["train"]
        lines.append(
            f"{row['items']:,} | {int(m['interactions']):,} | {m['load_s']} | {t['train_s']} "
            f"({t.get('read_s')}/{t.get('fit_s')}/{t.get('save_s')}) | {t['peak_mib']:,.0f} | "
            f"{m['feed_p50_ms']}/{m['feed_p99_ms']} | {m['similar_p50_ms']}/{m['similar_p99_ms']} | "
            f"{m['serving_rss_mib']:,.0f}")
    if "growth" in r:
        lines.append(f"growth (last / first): {r['growth']}")
    return lines


def _worker_main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--worker", required=True, choices=("load", "train", "serve"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--n-items", type=int, default=0)
    parser.add_argument("--n-users", type=int, default=0)
    parser.add_argument("--n-events", type=int, default=0)
    parser.add_argument("--feed-calls", type=int, default=200)
    parser.add_argument("--similar-calls", type=int, default=200)
    args = parser.parse_args()
    from bench.common import django_setup

    django_setup()
    if args.worker == "load":
        result = load(args.n_items, args.n_users, args.n_events)
    elif args.worker == "train":
        result = train()
    else:
        result = serve(args.feed_calls, args.similar_calls)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main())
