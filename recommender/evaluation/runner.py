"""Offline evaluation: splits, fitting, full-ranking metrics, rating CV, cold start, fairness."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from recommender.algorithms import REGISTRY, build
from recommender.algorithms.base import Recommender, top_k_rows
from recommender.algorithms.data import Interactions, split_per_user
from recommender.algorithms.hybrid import Hybrid, usable
from recommender.algorithms.knowledge import catalog_facts
from recommender.algorithms.prior import PopularityBlend
from recommender.algorithms.rating import BPMF
from recommender.algorithms.rerank import CANDIDATE_POOL, exposure_prices, fairness_rerank, genre_similarity

from . import metrics

RATIOS = (0.8, 0.1, 0.1)
COLD_MAX_EVENTS = 3
COLD_USER_SHARE = 0.2
FAIRNESS_STRENGTHS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)
HYBRID_REUSES = ("ease", "itemknn", "tknn", "als", "pop", "trending", "timepop", "content", "kg", "session", "bpmf")


@dataclass
class Split:
    train: Interactions
    valid: Interactions
    test: Interactions

    def seen_before_test(self, user: int) -> np.ndarray:
        """Items masked when ranking for the test (train + validation, as RecBole does)."""
        return np.union1d(self.train.seen(user), self.valid.seen(user))


def knowledge(dataset: Any) -> list[tuple[str, str, str]]:
    """A dataset's knowledge graph: its linked facts plus its items' genres and release years."""
    return list(dataset.kg) + catalog_facts((i, record.genres, record.year) for i, record in dataset.items.items())


def make_split(data: Interactions, protocol: str, seed: int) -> Split:
    """``recbole``: random 8:1:1 per user; ``temporal``: the same ratios on each user's time order."""
    if protocol not in {"recbole", "temporal"}:
        raise ValueError(f"unknown protocol {protocol!r}")
    train, valid, test = split_per_user(data, RATIOS, seed=seed, temporal=protocol == "temporal")
    return Split(train, valid, test)


@dataclass
class Fitted:
    models: dict[str, Recommender] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall clock
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # this process's CPU time


def fit_models(names: Sequence[str], split: Split, side_info: dict[str, Any], *, seed: int,
               num_threads: int | None, progress: bool = True) -> Fitted:
    """Fit every named model on ``split.train``; the hybrid reuses the fitted components."""
    out = Fitted()
    wanted = list(names)
    if "hybrid" in wanted:  # its components first, counted once
        extra = [n for n in HYBRID_REUSES if n not in names and usable(n, side_info)]
        wanted = [n for n in names if n != "hybrid"] + extra + ["hybrid"]
    for name in tqdm(wanted, desc="fit", disable=not progress):
        started, cpu_started = time.perf_counter(), time.process_time()
        if name == "hybrid":
            reuse = {n: _raw(m) for n, m in out.models.items() if n in HYBRID_REUSES}
            model = Hybrid(seed=seed, num_threads=num_threads).fit(split.train, validation=split.valid,
                                                                     fitted=reuse, **side_info)
        else:
            model = build(name, seed=seed, num_threads=num_threads).fit(split.train, **side_info)
        out.seconds[name] = time.perf_counter() - started
        out.cpu_seconds[name] = time.process_time() - cpu_started
        out.models[name] = model
    return out


def _raw(model: Recommender) -> Recommender:
    """The hybrid takes content / KG / session without the stand-alone popularity prior."""
    return model.inner if isinstance(model, PopularityBlend) else model


def recommend_lists(model: Recommender, users: np.ndarray, exclude: list[np.ndarray], k: int,
                    batch_size: int = 256) -> np.ndarray:
    """(len(users), k) top item indices per user (-1 pads), ``exclude`` masked."""
    if isinstance(model, Hybrid):
        return model.recommend_users(users, k, batch_size=batch_size, exclude=exclude)[0]
    out = np.full((len(users), k), -1, dtype=np.int64)
    for start in range(0, len(users), batch_size):
        chunk = users[start:start + batch_size]
        scores = model.score_users(chunk)
        for r in range(len(chunk)):
            scores[r, exclude[start + r]] = -np.inf
        top = top_k_rows(scores, k)
        finite = np.isfinite(np.take_along_axis(np.where(np.isnan(scores), -np.inf, scores), top, axis=1))
        out[start:start + len(chunk)] = np.where(finite, top, -1)
    return out


def ranking_report(lists: np.ndarray, users: np.ndarray, truth: Interactions, k: int, *,
                   item_popularity: np.ndarray, n_users: int, similarity: np.ndarray | None) -> dict[str, float]:
    """Accuracy metrics averaged over users with test items, plus beyond-accuracy metrics."""
    csr = truth.csr()
    report: dict[str, list[float]] = {name: [] for name in metrics.RANKING_METRICS}
    clean = []
    for user, row in zip(users, lists, strict=True):
        ranked = [int(i) for i in row if i >= 0]
        clean.append(ranked)
        relevant = set(csr.indices[csr.indptr[user]:csr.indptr[user + 1]].tolist())
        if not relevant:
            continue
        for name, fn in metrics.RANKING_METRICS.items():
            report[name].append(fn(ranked, relevant, k))
    out = {name: float(np.mean(values)) if values else 0.0 for name, values in report.items()}
    n_items = truth.n_items
    out.update(
        coverage=metrics.catalog_coverage(clean, n_items),
        gini=metrics.exposure_gini(clean, n_items),
        novelty=metrics.novelty(clean, item_popularity, n_users),
        avg_popularity=metrics.average_popularity(clean, item_popularity),
    )
    if similarity is not None:
        out["ild"] = metrics.intra_list_diversity(clean, similarity)
    out["users"] = int(sum(1 for u in users if csr.indptr[u + 1] > csr.indptr[u]))
    return out


def test_users(split: Split) -> np.ndarray:
    csr = split.test.csr()
    return np.flatnonzero(np.diff(csr.indptr) > 0)


def evaluate_models(fitted: Fitted, names: Sequence[str], split: Split, k: int, *,
                    similarity: np.ndarray | None, progress: bool = True) -> dict[str, dict[str, float]]:
    users = test_users(split)
    exclude = [split.seen_before_test(int(u)) for u in users]
    popularity = split.train.item_counts()
    results = {}
    for name in tqdm(list(names), desc="rank", disable=not progress):
        lists = recommend_lists(fitted.models[name], users, exclude, k)
        results[name] = ranking_report(lists, users, split.test, k, item_popularity=popularity,
                                       n_users=split.train.n_users, similarity=similarity)
        results[name]["train_seconds"] = round(fitted.seconds.get(name, 0.0), 3)
        results[name]["train_cpu_seconds"] = round(fitted.cpu_seconds.get(name, 0.0), 3)
    return results


# ------------------------------------------------------------------ ratings
def rating_cv(data: Interactions, *, folds: int = 5, seed: int = 0, progress: bool = True,
              factory: Callable[[], BPMF] | None = None) -> dict[str, Any]:
    """RMSE / MAE of rating prediction by ``folds``-fold cross-validation over all ratings."""
    fold_of = np.random.default_rng(seed).permutation(len(data)) % folds
    rmses, maes, seconds = [], [], []
    for f in tqdm(range(folds), desc="rating cv", disable=not progress):
        train, test = data.subset(fold_of != f), data.subset(fold_of == f)
        started = time.perf_counter()
        model = (factory or (lambda: BPMF(seed=seed)))().fit(train)
        seconds.append(time.perf_counter() - started)
        predicted = model.predict(test.users, test.items)
        rmses.append(metrics.rmse(predicted, test.ratings))
        maes.append(metrics.mae(predicted, test.ratings))
    return {"model": "bpmf", "folds": folds, "rmse": float(np.mean(rmses)), "mae": float(np.mean(maes)),
            "rmse_per_fold": [round(x, 4) for x in rmses], "train_seconds_per_fold": round(float(np.mean(seconds)), 3)}


# --------------------------------------------------------------- cold start
def truncate_users(split: Split, cold: np.ndarray, max_events: int, seed: int) -> Split:
    """A copy of ``split`` where the ``cold`` users keep only ``max_events`` random training
    events (validation and test untouched): simulated new users."""
    rng = np.random.default_rng(seed)
    train = split.train
    keep = np.ones(len(train), dtype=bool)
    for u in cold:
        events = np.flatnonzero(train.users == u)
        drop = rng.permutation(events)[max_events:]
        keep[drop] = False
    return Split(train.subset(keep), split.valid, split.test)


def cold_start_report(split: Split, side_info: dict[str, Any], k: int, *, seed: int, num_threads: int | None,
                      progress: bool = True) -> dict[str, dict[str, float]]:
    """NDCG etc. of the hybrid and popularity for users with at most 3 training interactions.

    The test users are dealt into ``1 / COLD_USER_SHARE`` disjoint groups. In each round one
    group is cut to 3 training events and both models are refitted, so every test user is
    simulated once while the other 80% keep their history.
    """
    users = np.random.default_rng(seed).permutation(test_users(split))
    rounds = round(1 / COLD_USER_SHARE)
    lists: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"hybrid": [], "pop": []}
    for group in tqdm(np.array_split(users, rounds), desc="cold start", disable=not progress):
        cold = np.sort(group)
        cold_split = truncate_users(split, cold, COLD_MAX_EVENTS, seed)
        fitted = fit_models(["pop", "hybrid"], cold_split, side_info, seed=seed, num_threads=num_threads,
                            progress=False)
        exclude = [cold_split.seen_before_test(int(u)) for u in cold]
        for name, found in lists.items():
            found.append((cold, recommend_lists(fitted.models[name], cold, exclude, k)))
    out = {}
    for name, found in lists.items():
        cold_users = np.concatenate([c for c, _ in found])
        out[name] = ranking_report(np.concatenate([lst for _, lst in found]), cold_users, split.test, k,
                                   item_popularity=split.train.item_counts(), n_users=split.train.n_users,
                                   similarity=None)
    return out


# ------------------------------------------------------------------ fairness
def fairness_tradeoff(model: Hybrid, split: Split, k: int, strengths: Sequence[float] = FAIRNESS_STRENGTHS,
                      pool: int = CANDIDATE_POOL, progress: bool = True) -> dict[str, list[dict[str, float]]]:
    """NDCG@k and exposure Gini of the hybrid's top-``pool`` re-ranked by the exposure-priced
    re-ranker at each fairness strength.

    The prices are fitted on the same candidate lists that are re-ranked: the hybrid's scores
    with the training and validation items masked, as training fits them on every user's
    list. Test items never enter them; they only score the re-ranked lists.
    """
    users = test_users(split)
    exclude = [split.seen_before_test(int(u)) for u in users]
    items, scores = model.recommend_users(users, pool, exclude=exclude)
    popularity = split.train.item_counts()
    n_items = split.train.n_items
    prices = exposure_prices(items, scores, n_items=n_items, k=k)
    csr = split.test.csr()
    relevant = [set(csr.indices[csr.indptr[u]:csr.indptr[u + 1]].tolist()) for u in users]
    rows = []
    for strength in tqdm(list(strengths), desc="fairness", disable=not progress):
        lists = []
        for r in range(len(users)):
            ok = items[r] >= 0
            cand = items[r][ok].tolist()
            lists.append(fairness_rerank(cand, scores[r][ok], prices.of(cand, strength), k=k)[:k])
        ndcg = float(np.mean([metrics.ndcg_at_k(lst, rel, k) for lst, rel in zip(lists, relevant, strict=True)]))
        rows.append({"strength": strength, "ndcg": ndcg, "gini": metrics.exposure_gini(lists, n_items),
                     "coverage": metrics.catalog_coverage(lists, n_items),
                     "avg_popularity": metrics.average_popularity(lists, popularity)})
    for row in rows:
        row["ndcg_change"] = row["ndcg"] / rows[0]["ndcg"] - 1 if rows[0]["ndcg"] else 0.0
        row["gini_change"] = row["gini"] / rows[0]["gini"] - 1 if rows[0]["gini"] else 0.0
    return {"exposure": rows}


def item_similarity(item_genres: Sequence[Sequence[str]], item_vectors: np.ndarray | None) -> np.ndarray | None:
    """Genre cosine when items have genres, else embedding cosine (for intra-list diversity)."""
    if any(item_genres):
        return genre_similarity(item_genres)
    if item_vectors is not None:
        v = item_vectors / np.maximum(np.linalg.norm(item_vectors, axis=1, keepdims=True), 1e-12)
        return v @ v.T
    return None


# BPMF predicts ratings (the "rating" section); the hybrid uses it as a feature
ALL_MODELS = tuple(n for n in REGISTRY if n not in {"trending", "timepop", "userknn", "bpmf"})
