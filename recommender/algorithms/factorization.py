"""Implicit-feedback matrix factorisation through the ``implicit`` package (CPU): ALS and BPR.

Trained users use their learned factors; an ad-hoc history is folded in from the saved item
factors (ALS: the least-squares step of ALS itself, as implicit's ``recalculate_user``; BPR: a
ridge fit of the user vector to the history's item factors), so a saved model folds in exactly
as the fitted one.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import FoldIn, is_large_catalog
from .data import Event, Interactions
from .tuning import pick_best


def _threads(num_threads: int | None) -> int:
    """``num_threads``, else ``RECSITE_THREADS``, else 1: on a small shared machine extra OpenMP
    threads spin against the web server and measured 2-5x slower than one."""
    return int(num_threads or os.environ.get("RECSITE_THREADS", 0) or 1)


class _ImplicitMF(FoldIn):
    def _new_model(self, **params: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _user_items(self, data: Interactions) -> sp.csr_matrix:
        return data.weighted("binary")

    def _fit_model(self, data: Interactions, params: dict[str, Any]) -> None:
        self.data = data
        self.params_ = params
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self._new_model(**params)
            model.fit(self._user_items(data), show_progress=False)
        # the factors are all that is kept: implicit's object is not portable
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def _fold_in_system(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A, w)`` for a history whose item factors are the rows of ``v``: its user vector is
        ``A^-1 v' w``. Here a ridge fit of the history's factors to 1."""
        reg = float(self.params_.get("regularization", 0.01)) * max(len(v), 1) + 1e-3
        return v.T @ v + reg * np.eye(v.shape[1]), np.ones(len(v))

    def _fold_in(self, events: list[Event]) -> np.ndarray:
        v = self.item_factors[[e[0] for e in events]].astype(np.float64)
        a, w = self._fold_in_system(v)
        return np.linalg.solve(a, v.T @ w)

    def contributions(self, events: list[Event], item: int) -> dict[int, float]:
        """Each history item's additive share of ``item``'s folded-in score (``w_j v_i' A^-1 v_j``)."""
        if not events:
            return {}
        idx = [e[0] for e in events]
        v = self.item_factors[idx].astype(np.float64)
        a, w = self._fold_in_system(v)
        shares = self.item_factors[item].astype(np.float64) @ np.linalg.solve(a, v.T) * w
        return {int(j): float(c) for j, c in zip(idx, shares, strict=True)}

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        if user is not None and not self._adhoc:
            if len(self.data.seen(user)) == 0 and not events:
                return np.full(self.n_items, np.nan)
            vec = self.user_factors[user]
        elif events:
            vec = self._fold_in(events)
        else:
            return np.full(self.n_items, np.nan)
        if is_large_catalog(self.n_items):
            vec = np.asarray(vec, dtype=np.float32)  # a float64 vector would copy the factors to float64
        return (self.item_factors @ vec).astype(np.float64)

    def _score_rows(self, matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        scores = (self.user_factors[users] @ self.item_factors.T).astype(np.float64)
        scores[np.diff(matrix.indptr) == 0] = np.nan
        return scores


class ALS(_ImplicitMF):
    """Weighted implicit ALS (Hu et al.); factors/regularisation chosen by internal validation."""

    name = "als"

    def __init__(self, factors: int | None = None, regularization: float | None = None,
                 alpha: float = 1.0, iterations: int = 15, seed: int = 0, num_threads: int | None = None) -> None:
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed, self.num_threads = iterations, seed, num_threads

    def _new_model(self, **params: Any) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(random_state=self.seed, num_threads=_threads(self.num_threads),
                                       calculate_training_loss=False, **params)

    def _fold_in_system(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ALS's own user step for the history (confidence ``alpha`` per item, as in training):
        ``A = Y'Y + reg I + (alpha - 1) v'v``, ``w = alpha``. Before, the fitted model asked
        implicit's object, which is not saved, and a loaded one fell back to the ridge fit: the
        ranker learned on one formula and serving used the other."""
        if getattr(self, "item_gram", None) is None:  # once per model (also for ones saved without it)
            # in float32 as implicit does: a float64 copy of 1M items' factors would be 0.5 GB
            self.item_gram = (self.item_factors.T @ self.item_factors).astype(np.float64)
        a = self.item_gram + float(self.params_["regularization"]) * np.eye(v.shape[1]) + (self.alpha - 1) * (v.T @ v)
        return a, np.full(len(v), float(self.alpha))

    def _chosen_params(self) -> dict[str, Any]:
        return {"factors": self.params_["factors"], "regularization": self.params_["regularization"],
                "alpha": self.alpha, "iterations": self.iterations, "seed": self.seed,
                "num_threads": self.num_threads}

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        params = {"factors": self.factors, "regularization": self.regularization, "alpha": self.alpha,
                  "iterations": self.iterations}
        if self.factors is None or self.regularization is None:
            scale = max(float(np.mean(data.user_counts())), 1.0) / 10.0
            pairs = [(32, 1.0), (64, 1.0)]
            if is_large_catalog(data.n_items):  # no grid search: each point is a full fit
                params.update(factors=self.factors or 64, regularization=self.regularization or scale)
                self._fit_model(data, params)
                return self
            grid = [{**params, "factors": self.factors or f, "regularization": (self.regularization or r * scale)}
                    for f, r in pairs]
            params, self.tuning_ = pick_best(lambda **p: ALS(seed=self.seed, num_threads=self.num_threads, **p),
                                             grid, data, seed=self.seed)
        self._fit_model(data, params)
        return self


class BPR(_ImplicitMF):
    """Bayesian personalised ranking (Rendle et al.) via implicit's CPU solver."""

    name = "bpr"

    def __init__(self, factors: int = 32, learning_rate: float | None = 0.02, regularization: float = 0.05,
                 iterations: int = 300, seed: int = 0, num_threads: int | None = None) -> None:
        self.factors, self.learning_rate, self.regularization = factors, learning_rate, regularization
        self.iterations, self.seed, self.num_threads = iterations, seed, num_threads

    def _new_model(self, **params: Any) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(random_state=self.seed, num_threads=_threads(self.num_threads),
                                           verify_negative_samples=True, **params)

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        params = {"factors": self.factors, "learning_rate": self.learning_rate,
                  "regularization": self.regularization, "iterations": self.iterations}
        if self.learning_rate is None:
            grid = [{**params, "learning_rate": lr} for lr in (0.01, 0.02, 0.05)]
            params, self.tuning_ = pick_best(lambda **p: BPR(seed=self.seed, num_threads=self.num_threads, **p),
                                             grid, data, seed=self.seed)
        self._fit_model(data, params)
        return self
