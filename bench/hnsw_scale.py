"""HNSW at scale: a synthetic catalog of ``--rows`` x 384 clustered unit vectors in a scratch
database on the same server; load time, index build time and size, recall@10 against exact
search over ef_search, and HNSW vs exact-scan latency.

The vectors come from a mixture of Gaussian clusters (uneven sizes, a shared anisotropic
noise spectrum and a common mean direction, like sentence embeddings) generated in chunks.
The exact top-10 of every query is computed with numpy while the chunks stream in, so the full
matrix is never held in memory.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from tqdm import tqdm

from bench.common import median, ms, percentile, pg_params

NAME = "hnsw_scale"
DIM = 384
K = 10
EF_VALUES = (40, 80, 120, 200, 400)
RECALL_GOAL = 0.95
CHUNK = 50_000
TABLE = "bench_vectors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000, help="catalog size (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=200, help="recall queries (default 200)")
    parser.add_argument("--exact-queries", type=int, default=20, help="queries timed by exact scan (default 20)")
    parser.add_argument("--clusters", type=int, default=0, help="mixture components (default rows/400)")
    parser.add_argument("--subclusters", type=int, default=0, help="sub-clusters per cluster (default none)")
    parser.add_argument("--database", default="bench_hnsw", help="scratch database (dropped unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--maintenance-work-mem", default="6GB")
    parser.add_argument("--parallel-workers", type=int, default=1, help="max_parallel_maintenance_workers")


class Mixture:
    """Clustered unit vectors: centre (+ sub-cluster offset) + anisotropic noise, normalised.

    With ``subclusters`` > 0 each cluster has that many sub-centres holding 70% of the noise
    variance, so close neighbours are closer (like sequels or items of one brand)."""

    def __init__(self, clusters: int, subclusters: int = 0, seed: int = 20261127) -> None:
        rng = np.random.default_rng(seed)
        mean = rng.standard_normal(DIM)
        mean /= np.linalg.norm(mean)
        centres = rng.standard_normal((clusters, DIM)) / np.sqrt(DIM) + 0.35 * mean
        self.centres = (centres / np.linalg.norm(centres, axis=1, keepdims=True)).astype(np.float32)
        weights = rng.permutation(1.0 / np.arange(1, clusters + 1) ** 0.8)
        self.weights = weights / weights.sum()
        self.spread = rng.uniform(0.7, 1.3, clusters).astype(np.float32)
        spectrum = np.arange(1, DIM + 1, dtype=np.float64) ** -0.6
        # expected squared noise norm 0.8: cosine to the own centre about 0.75
        self.spectrum = (spectrum * np.sqrt(0.8 / np.sum(spectrum**2))).astype(np.float32)
        self.subclusters = subclusters
        self.offsets = np.zeros((clusters, 1, DIM), dtype=np.float32)
        if subclusters:
            noise = rng.standard_normal((clusters, subclusters, DIM), dtype=np.float32) * self.spectrum
            self.offsets = noise * np.sqrt(0.7) * self.spread[:, None, None]
            self.spectrum = self.spectrum * np.float32(np.sqrt(0.3))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        which = rng.choice(len(self.centres), size=n, p=self.weights)
        sub = rng.integers(0, max(1, self.subclusters), size=n)
        noise = rng.standard_normal((n, DIM), dtype=np.float32) * self.spectrum
        x = self.centres[which] + self.offsets[which, sub] + noise * self.spread[which, None]
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def _copy_rows(ids: np.ndarray, x: np.ndarray) -> bytes:
    """Rows (id bigint, v vector) in PostgreSQL's binary COPY row format, vectorised."""
    dtype = np.dtype([
        ("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"),
        ("v_len", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (DIM,)),
    ])
    rec = np.empty(len(ids), dtype=dtype)
    rec["fields"], rec["id_len"], rec["id"] = 2, 8, ids
    rec["v_len"], rec["dim"], rec["unused"], rec["v"] = 4 + 4 * DIM, DIM, 0, x
    return rec.tobytes()


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


class TopK:
    """Running exact top-k (by inner product = cosine for unit vectors) of the queries."""

    def __init__(self, queries: np.ndarray) -> None:
        self.queries = queries
        self.scores = np.full((len(queries), K), -np.inf, dtype=np.float32)
        self.ids = np.zeros((len(queries), K), dtype=np.int64)

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        s = self.queries @ x.T
        part = np.argpartition(-s, K, axis=1)[:, :K]
        scores = np.concatenate([self.scores, np.take_along_axis(s, part, axis=1)], axis=1)
        cand = np.concatenate([self.ids, ids[part]], axis=1)
        best = np.argsort(-scores, axis=1)[:, :K]
        self.scores = np.take_along_axis(scores, best, axis=1)
        self.ids = np.take_along_axis(cand, best, axis=1)


def data_stats(mixture: Mixture, truth: TopK) -> dict[str, float]:
    """How hard the set is: the queries' 1st and 10th neighbour cosine vs a random pair's."""
    x = mixture.sample(2000, np.random.default_rng(99))
    pairs = (x @ x.T)[np.triu_indices(len(x), 1)]
    return {
        "pair_cos_mean": round(float(pairs.mean()), 3),
        "pair_cos_std": round(float(pairs.std()), 3),
        "query_nn1_cos_mean": round(float(truth.scores[:, 0].mean()), 3),
        "query_nn10_cos_mean": round(float(truth.scores[:, K - 1].mean()), 3),
    }


def _connect(dbname: str, autocommit: bool = True) -> psycopg.Connection:
    conn = psycopg.connect(**pg_params(dbname), autocommit=autocommit)
    return conn


def _knn(conn: psycopg.Connection, q: np.ndarray) -> tuple[list[int], float]:
    t0 = time.perf_counter()
    rows = conn.execute(
        f"SELECT id FROM {TABLE} ORDER BY v <=> %s::vector LIMIT {K}", [_literal(q)], prepare=True
    ).fetchall()
    return [r[0] for r in rows], time.perf_counter() - t0


def _literal(q: np.ndarray) -> str:
    return "[" + ",".join(f"{v:.7g}" for v in q.tolist()) + "]"


def _recall(found: list[int], truth: np.ndarray) -> float:
    return len(set(found) & set(truth.tolist())) / K


def _build_index(dbname: str, args: argparse.Namespace, rows: int) -> float:
    """CREATE INDEX in a thread; poll pg_stat_progress_create_index for the progress bar."""
    error: list[BaseException] = []
    elapsed: list[float] = []

    def build() -> None:
        try:
            with _connect(dbname) as conn:
                conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(args.maintenance_work_mem)))
                conn.execute(sql.SQL("SET max_parallel_maintenance_workers = {}").format(
                    sql.Literal(args.parallel_workers)))
                t0 = time.perf_counter()
                conn.execute(
                    f"CREATE INDEX {TABLE}_hnsw ON {TABLE} USING hnsw (v vector_cosine_ops) "
                    "WITH (m = 16, ef_construction = 64)"
                )
                elapsed.append(time.perf_counter() - t0)
        except BaseException as exc:  # re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    with _connect(dbname) as mon, tqdm(total=rows, desc="hnsw build", unit="row") as bar:
        while thread.is_alive():
            thread.join(2.0)
            row = mon.execute(
                "SELECT phase, tuples_done FROM pg_stat_progress_create_index WHERE datname = current_database()"
            ).fetchone()
            if row:
                bar.set_postfix_str(str(row[0]))
                bar.n = int(row[1] or 0)
                bar.refresh()
        bar.n = rows
        bar.refresh()
    if error:
        raise error[0]
    return elapsed[0]


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows, dbname = args.rows, args.database
    clusters = args.clusters or int(min(4000, max(16, rows // 400)))
    mixture = Mixture(clusters, args.subclusters)
    queries = mixture.sample(args.queries, np.random.default_rng(7))
    truth = TopK(queries)

    with _connect("postgres") as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    result: dict[str, Any] = {
        "rows": rows, "dim": DIM, "clusters": clusters, "subclusters": args.subclusters, "queries": args.queries,
    }
    try:
        with _connect(dbname) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, v vector({DIM}) NOT NULL)")
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            result["pgvector"] = version[0] if version else None

            load = gen = 0.0
            with tqdm(total=rows, desc="load (COPY binary)", unit="row") as bar:
                for index, start in enumerate(range(0, rows, CHUNK)):
                    t0 = time.perf_counter()
                    n = min(CHUNK, rows - start)
                    x = mixture.sample(n, np.random.default_rng([1, index]))
                    ids = np.arange(start, start + n, dtype=np.int64)
                    truth.add(ids, x)
                    payload = _copy_rows(ids, x)
                    t1 = time.perf_counter()
                    with conn.cursor() as cur, cur.copy(f"COPY {TABLE} (id, v) FROM STDIN WITH (FORMAT BINARY)") as cp:
                        cp.write(COPY_HEADER)
                        cp.write(payload)
                        cp.write(COPY_TRAILER)
                    load += time.perf_counter() - t1
                    gen += t1 - t0
                    bar.update(n)
            conn.execute(f"VACUUM ANALYZE {TABLE}")
            result["data"] = data_stats(mixture, truth)
            result["load_s"] = round(load, 1)
            result["load_rows_per_s"] = round(rows / load)
            result["generate_and_exact_topk_s"] = round(gen, 1)
            result["table_bytes"] = conn.execute(f"SELECT pg_total_relation_size('{TABLE}')").fetchone()[0]

        result["build_s"] = round(_build_index(dbname, args, rows), 1)
        result["maintenance_work_mem"] = args.maintenance_work_mem
        result["max_parallel_maintenance_workers"] = args.parallel_workers

        with _connect(dbname) as conn, _connect(dbname) as exact:
            result["index_bytes"] = conn.execute(f"SELECT pg_relation_size('{TABLE}_hnsw')").fetchone()[0]
            conn.execute(f"SET hnsw.ef_search = {max(EF_VALUES)}")
            for q in tqdm(queries, desc="warm-up", unit="q"):
                _knn(conn, q)
            recall: dict[int, float] = {}
            for ef in EF_VALUES:
                conn.execute(f"SET hnsw.ef_search = {ef}")
                found = [_knn(conn, q)[0] for q in tqdm(queries, desc=f"recall ef={ef}", unit="q")]
                recall[ef] = round(float(np.mean([_recall(f, t) for f, t in zip(found, truth.ids, strict=True)])), 4)
            result["recall_at_10"] = recall
            chosen = next((ef for ef in EF_VALUES if recall[ef] >= RECALL_GOAL), None)
            result["ef_search_for_recall_0_95"] = chosen
            ef = chosen or max(EF_VALUES)
            conn.execute(f"SET hnsw.ef_search = {ef}")

            # HNSW latency: 3 rounds over all queries; the exact scan interleaved on a sample.
            exact.execute("SET enable_indexscan = off")
            exact.execute("SET enable_bitmapscan = off")
            hnsw_t: list[float] = []
            exact_t: list[float] = []
            exact_recall: list[float] = []
            sample = set(np.linspace(0, len(queries) - 1, args.exact_queries).astype(int).tolist())
            for _round in range(3):
                for i, q in enumerate(tqdm(queries, desc=f"latency ef={ef} round {_round + 1}/3", unit="q")):
                    hnsw_t.append(_knn(conn, q)[1])
                    if _round == 0 and i in sample:
                        found, seconds = _knn(exact, q)
                        exact_t.append(seconds)
                        exact_recall.append(_recall(found, truth.ids[i]))
            explain = f"EXPLAIN (COSTS OFF) SELECT id FROM {TABLE} ORDER BY v <=> %s::vector LIMIT {K}"
            plan = exact.execute(explain, [_literal(queries[0])]).fetchall()
            result["latency_ef_search"] = ef
            result["hnsw_p50_ms"] = ms(percentile(hnsw_t, 50))
            result["hnsw_p99_ms"] = ms(percentile(hnsw_t, 99))
            result["exact_p50_ms"] = ms(median(exact_t))
            result["exact_queries"] = len(exact_t)
            result["exact_sql_vs_numpy_recall"] = round(float(np.mean(exact_recall)), 4)
            result["exact_plan"] = re.sub(r"'\[[^]]*\]'", "$q", " | ".join(r[0].strip() for r in plan))
            result["speedup_exact_over_hnsw_p50"] = round(median(exact_t) / percentile(hnsw_t, 50), 1)
    finally:
        if not args.keep:
            with _connect("postgres") as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
    return result


def summary(r: dict[str, Any]) -> list[str]:
    recall = ", ".join(f"ef={ef}: {v:.3f}" for ef, v in r["recall_at_10"].items())
    return [
        f"{r['rows']:,} x {r['dim']} vectors ({r['clusters']} clusters x {r['subclusters']} sub): load {r['load_s']} s "
        f"({r['load_rows_per_s']:,} rows/s), HNSW build {r['build_s']} s, index {r['index_bytes'] / 2**20:,.0f} MiB",
        f"data: {r['data']}",
        f"recall@10 {recall}; smallest ef_search with recall >= {RECALL_GOAL}: {r['ef_search_for_recall_0_95']}",
        f"at ef_search={r['latency_ef_search']}: HNSW p50 {r['hnsw_p50_ms']} ms, p99 {r['hnsw_p99_ms']} ms; "
        f"exact scan p50 {r['exact_p50_ms']} ms -> {r['speedup_exact_over_hnsw_p50']}x faster",
    ]
