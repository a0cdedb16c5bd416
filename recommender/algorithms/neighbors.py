"""Item-based collaborative filtering: ItemKNN (shrunk cosine) and EASE (closed form).

Both score ``history @ W`` with an item x item matrix ``W``, so an ad-hoc history is scored
without retraining and each history item's share of a score (``W[j, i]``) is an explanation.
"""

from __future__ import annotations

import itertools
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import Recommender, is_large_catalog
from .data import Event, Interactions
from .tuning import holdout, holdout_users, ndcg_at_k, pick_best


class ItemToItem(Recommender):
    """Shared scoring for models whose score is ``history_vector @ weights``."""

    weights: np.ndarray | sp.csr_matrix

    def _history_row(self, events: list[Event]) -> np.ndarray:
        row = np.zeros(self.n_items, dtype=np.float32)
        for item, _w, _t in events:
            row[item] = 1.0
        return row

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        if not events:
            return np.full(self.n_items, np.nan)
        if sp.issparse(self.weights) and is_large_catalog(self.n_items):
            # the history's rows of W only (a dense row times W reads all of W)
            rows = np.unique(np.fromiter((e[0] for e in events), dtype=np.int64, count=len(events)))
            return np.asarray(self.weights[rows].sum(axis=0)).ravel().astype(np.float64)
        return np.asarray(self._history_row(events) @ self.weights).ravel().astype(np.float64)

    def _score_rows(self, matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        x = matrix.copy()
        x.data[:] = 1.0
        scores = np.asarray((x @ self.weights).todense() if sp.issparse(self.weights) else x @ self.weights)
        scores = scores.astype(np.float64)
        scores[np.diff(matrix.indptr) == 0] = np.nan
        return scores

    def contributions(self, events: list[Event], item: int) -> dict[int, float]:
        """Each history item's additive share of ``item``'s score."""
        if sp.issparse(self.weights):  # only the history's rows: a CSR column slice reads all of W
            idx = [j for j, _w, _t in events]
            column = np.asarray(self.weights[idx][:, [item]].todense()).ravel() if idx else np.zeros(0)
            return {int(j): float(c) for j, c in zip(idx, column, strict=True) if c != 0}
        column = self.weights[:, item]
        column = np.asarray(column.todense()).ravel() if sp.issparse(column) else np.asarray(column).ravel()
        return {int(j): float(column[j]) for j, _w, _t in events if column[j] != 0}


class ItemKNN(ItemToItem):
    """Cosine similarity of item co-occurrence with shrinkage, pruned to ``k`` neighbours.

    ``k``/``shrink`` of ``None`` are chosen by internal validation on the training data.
    """

    name = "itemknn"

    def __init__(self, k: int | None = None, shrink: float | None = None, seed: int = 0) -> None:
        self.k, self.shrink, self.seed = k, shrink, seed

    def _chosen_params(self) -> dict[str, Any]:
        return {"k": self.k_, "shrink": self.shrink_, "seed": self.seed}

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        k, shrink = self.k, self.shrink
        if is_large_catalog(data.n_items):
            # a grid search is one full fit per point: fixed, commonly good values instead
            k, shrink = k or LARGE_CATALOG_K, LARGE_CATALOG_SHRINK if shrink is None else shrink
        if k is None or shrink is None:
            grid = [{"k": kk, "shrink": ss} for kk in ([k] if k else [20, 50, 100, 200])
                    for ss in ([shrink] if shrink is not None else [0.0, 10.0, 50.0])]
            best, self.tuning_ = pick_best(ItemKNN, grid, data, seed=self.seed)
            k, shrink = best["k"], best["shrink"]
        self.k_, self.shrink_ = int(k), float(shrink)
        self.data = data
        x = data.binary().tocsc().astype(np.float32)
        if is_large_catalog(data.n_items):
            self.weights = _sparse_cosine_top_k(x, self.shrink_, self.k_)
            return self
        co = (x.T @ x).toarray()
        norms = np.sqrt(np.diag(co))
        sim = co / (np.outer(norms, norms) + self.shrink_ + 1e-9)
        np.fill_diagonal(sim, 0.0)
        self.weights = _prune_columns(sim, self.k_)
        return self


LARGE_CATALOG_K = 50
LARGE_CATALOG_SHRINK = 10.0
CO_BLOCK_NNZ = 30_000_000  # co-occurrence entries computed at a time by the sparse ItemKNN


def _sparse_cosine_top_k(x: sp.csc_matrix, shrink: float, k: int) -> sp.csr_matrix:
    """ItemKNN's pruned similarity built sparse: the co-occurrence ``x' x`` one block of target
    items at a time, each target cut to its ``k`` most similar positive sources.

    Memory is one block (about CO_BLOCK_NNZ entries) plus the result (n_items x k), never n_items^2."""
    n = x.shape[1]
    by_user = x.tocsr()
    by_item = x.T.tocsr()  # items x users
    norms = np.sqrt(np.diff(x.indptr).astype(np.float64))  # sqrt(users per item): the diagonal's root
    # a target's block cost: the sum of its users' item counts (its co-occurrences before merging)
    user_items = np.diff(by_user.indptr).astype(np.float64)
    cost = np.bincount(np.repeat(np.arange(n), np.diff(x.indptr)), weights=user_items[x.indices], minlength=n)
    cut = np.searchsorted(np.cumsum(cost), np.arange(CO_BLOCK_NNZ, cost.sum() + CO_BLOCK_NNZ, CO_BLOCK_NNZ))
    edges = np.unique(np.concatenate([[0], np.minimum(cut + 1, n), [n]]))
    rows, cols, vals = [], [], []
    for start, stop in itertools.pairwise(edges):
        co = by_item[start:stop] @ by_user  # targets x sources
        target = np.repeat(np.arange(start, stop), np.diff(co.indptr))
        source = co.indices
        sim = co.data / (norms[source] * norms[target] + shrink + 1e-9)
        keep = (source != target) & (sim > 0)
        source, target, sim = source[keep], target[keep], sim[keep]
        bounds = np.searchsorted(target, np.arange(start, stop + 1))
        take = np.ones(len(sim), dtype=bool)
        for r in np.flatnonzero(np.diff(bounds) > k):
            lo, hi = bounds[r], bounds[r + 1]
            take[lo + np.argpartition(-sim[lo:hi], k - 1)[k:]] = False
        rows.append(source[take])
        cols.append(target[take])
        vals.append(sim[take].astype(np.float32))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n),
                         dtype=np.float32)


def _prune_columns(sim: np.ndarray, k: int) -> sp.csr_matrix:
    """Keep, for each target item (column), its ``k`` most similar source items."""
    n = sim.shape[0]
    k = min(k, n - 1) if n > 1 else 0
    if k <= 0:
        return sp.csr_matrix(sim.shape, dtype=np.float32)
    rows = np.argpartition(-sim, k - 1, axis=0)[:k]  # (k, n) source items per column
    cols = np.broadcast_to(np.arange(n), rows.shape)
    vals = sim[rows, cols]
    keep = vals > 0
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=sim.shape, dtype=np.float32)


# lambda is averaged over three hold-outs: the NDCG curve is flat near its best and one hold-out
# picked a neighbour of it (ML-100K: 4x the mean item count, 0.318 test NDCG@10, against 8x, 0.326)
EASE_TUNING_FOLDS = 3


class EASE(ItemToItem):
    """Embarrassingly shallow autoencoder (Steck 2019): ``B = I - P / diag(P)``, ``P = (X'X + lambda I)^-1``.

    ``lam=None`` picks lambda by internal validation from multiples of the mean item count.
    """

    name = "ease"

    def __init__(self, lam: float | None = None, seed: int = 0) -> None:
        self.lam, self.seed = lam, seed

    def _chosen_params(self) -> dict[str, Any]:
        return {"lam": self.lam_, "seed": self.seed}

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        lam = self.lam
        if lam is None:
            base = max(float(np.mean(data.item_counts())), 1.0)
            lams = [base * f for f in (1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0)]
            lam = lams[int(np.argmax(self._tune(data, lams)))]
        self.lam_ = float(lam)
        self.data = data
        gram = _gram(data)
        gram[np.diag_indices_from(gram)] += self.lam_
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        self.weights = b.astype(np.float32)
        return self

    def _tune(self, data: Interactions, lams: list[float]) -> np.ndarray:
        """Mean hold-out NDCG@10 of each lambda over ``EASE_TUNING_FOLDS`` hold-outs (what
        ``pick_best`` computes), along the regularisation path of one eigendecomposition per
        hold-out: with ``X'X = V diag(s) V'``, ``P = V diag(1 / (s + lambda)) V'``, and the scores
        ``X B = X - (X P) / diag(P)`` need one users x items x items product per lambda instead of
        an inverse and the product."""
        totals = np.zeros(len(lams))
        for fold in range(EASE_TUNING_FOLDS):
            fit_part, held = holdout(data, self.seed + fold)
            users = holdout_users(held, self.seed + fold)
            s, v = np.linalg.eigh(_gram(fit_part))
            x = fit_part.binary()[users].toarray().astype(np.float64)
            xv, v2 = x @ v, v * v
            for g, lam in enumerate(lams):
                w = 1.0 / (np.maximum(s, 0.0) + lam)
                scores = x - ((xv * w) @ v.T) / (v2 @ w)
                scores[x.sum(axis=1) == 0] = np.nan
                totals[g] += ndcg_at_k(scores, fit_part, held, users)
        self.tuning_ = {repr({"lam": lam}): float(t / EASE_TUNING_FOLDS) for lam, t in zip(lams, totals, strict=True)}
        return totals


def _gram(data: Interactions) -> np.ndarray:
    """Dense ``X'X`` of the binary user x item matrix: item co-occurrence counts, float64."""
    x = data.binary()
    return (x.T @ x).toarray().astype(np.float64)


class UserKNN(Recommender):
    """User-based CF: cosine between users' item sets, the ``k`` most similar users vote.

    An ad-hoc history is compared with every training user, so live users need no retraining.
    ``k=None`` is chosen by internal validation.
    """

    name = "userknn"

    def __init__(self, k: int | None = None, seed: int = 0) -> None:
        self.k, self.seed = k, seed

    def _chosen_params(self) -> dict[str, Any]:
        return {"k": self.k_, "seed": self.seed}

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        k = self.k
        if k is None:
            best, self.tuning_ = pick_best(UserKNN, [{"k": kk} for kk in (25, 50, 100, 200)], data, seed=self.seed)
            k = best["k"]
        self.k_ = int(k)
        self.data = data
        x = data.binary()
        norms = np.sqrt(np.asarray(x.sum(axis=1)).ravel())
        self.user_rows = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ x).tocsr().astype(np.float32)
        self.item_matrix = x.astype(np.float32).tocsr()
        return self

    def _scores_from_sims(self, sims: np.ndarray) -> np.ndarray:
        k = min(self.k_, sims.shape[1])
        if k < sims.shape[1]:
            cut = np.partition(sims, -k, axis=1)[:, -k][:, None]
            sims = np.where(sims >= cut, sims, 0.0)
        return np.asarray(sims @ self.item_matrix, dtype=np.float64)

    def _score_rows(self, matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        sims = np.asarray((self.user_rows[users] @ self.user_rows.T).todense())
        sims[np.arange(len(users)), users] = 0.0  # not one's own neighbour
        scores = self._scores_from_sims(sims)
        scores[np.diff(matrix.indptr) == 0] = np.nan
        return scores

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        if not events:
            return np.full(self.n_items, np.nan)
        if user is not None:
            return self._score_rows(self.data.csr()[[user]], np.array([user]))[0]
        row = np.zeros(self.n_items, dtype=np.float32)
        row[[e[0] for e in events]] = 1.0
        row /= np.linalg.norm(row)
        sims = np.asarray(self.user_rows @ row)[None]
        return self._scores_from_sims(sims)[0]


LARGE_CATALOG_WINDOW = 5


class TemporalItemKNN(ItemToItem):
    """Items rated close together in time by the same users (within ``window`` events).

    A symmetric, distance-weighted (1/d) co-occurrence of each user's time-ordered events,
    normalised by the items' popularity (cosine-like). Unlike plain co-occurrence it knows
    which items belong to the same viewing period. ``window=None``: internal validation.
    """

    name = "tknn"

    def __init__(self, window: int | None = None, seed: int = 0) -> None:
        self.window, self.seed = window, seed

    def _chosen_params(self) -> dict[str, Any]:
        return {"window": self.window_, "seed": self.seed}

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        window = self.window
        if window is None and is_large_catalog(data.n_items):
            window = LARGE_CATALOG_WINDOW  # no grid search: each point is a full fit
        if window is None:
            best, self.tuning_ = pick_best(TemporalItemKNN, [{"window": w} for w in (5, 20, 50)], data,
                                           seed=self.seed)
            window = best["window"]
        self.window_ = int(window)
        self.data = data
        order = np.lexsort((data.timestamps, data.users))
        users, items = data.users[order], data.items[order]
        rows, cols, vals = [], [], []
        for d in range(1, self.window_ + 1):
            same = users[:-d] == users[d:]
            a, b = items[:-d][same], items[d:][same]
            rows += [a, b]
            cols += [b, a]
            vals += [np.full(len(a), 1.0 / d, dtype=np.float32)] * 2
        n = data.n_items
        co = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)) \
            if rows else sp.csr_matrix((n, n), dtype=np.float32)
        co.setdiag(0)
        co.eliminate_zeros()
        scale = sp.diags(1.0 / np.sqrt(data.item_counts() + 1.0))
        self.weights = (scale @ co @ scale).tocsr().astype(np.float32)
        return self
