"""Explicit rating prediction: Bayesian probabilistic matrix factorisation (Salakhutdinov and Mnih
2008) sampled with Gibbs, with the noise precision sampled too.

Its hyper-parameters are integrated out by Normal-Wishart and Gamma priors, so nothing needs
tuning for one dataset. Predictions average the samples; the model keeps the concatenated
sample factors, so a prediction is one dot product (mean over samples of ``u_s . v_s``).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from .base import FoldIn
from .data import Event, Interactions


def _wishart(rng: np.random.Generator, df: float, scale: np.ndarray) -> np.ndarray:
    """One draw from Wishart(df, scale) by the Bartlett decomposition."""
    d = scale.shape[0]
    chol = np.linalg.cholesky(scale)
    a = np.zeros((d, d))
    a[np.diag_indices(d)] = np.sqrt(rng.chisquare(df - np.arange(d)))
    a[np.tril_indices(d, -1)] = rng.standard_normal(d * (d - 1) // 2)
    la = chol @ a
    return la @ la.T


class BPMF(FoldIn):
    """``predict(user, items)`` gives ratings; ``score`` is the same (NaN for unknown users)."""

    name = "bpmf"

    def __init__(self, factors: int = 10, samples: int = 60, burn_in: int = 20, seed: int = 0) -> None:
        self.factors, self.samples, self.burn_in, self.seed = factors, samples, burn_in, seed

    # ---------------------------------------------------------------- sampling
    def _sample_hyper(self, rng: np.random.Generator, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, d = x.shape
        beta0, nu0 = 2.0, float(d)
        mean = x.mean(axis=0)
        cov = np.cov(x, rowvar=False, bias=True)
        w_inv = np.eye(d) + n * cov + (beta0 * n / (beta0 + n)) * np.outer(mean, mean)
        w = np.linalg.inv(w_inv)
        w = (w + w.T) / 2
        lam = _wishart(rng, nu0 + n, w)
        mu_mean = n * mean / (beta0 + n)
        mu = rng.multivariate_normal(mu_mean, np.linalg.inv((beta0 + n) * lam))
        return mu, lam

    @staticmethod
    def _sample_side(rng: np.random.Generator, r: sp.csr_matrix, other: np.ndarray, mu: np.ndarray,
                     lam: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw each row's factor from its posterior given the other side's factors.

        Also returns each row's ``sum_j v_j v_j'`` and ``sum_j r_j v_j`` over its rated ``j``,
        from which the squared residuals follow without touching every rating again."""
        d = other.shape[1]
        pattern = r.copy()
        pattern.data[:] = 1.0
        # the Gram matrices are symmetric: the upper triangle's products only
        upper, lower = np.triu_indices(d)
        gram = np.empty((r.shape[0], d, d))
        gram[:, upper, lower] = gram[:, lower, upper] = pattern @ (other[:, upper] * other[:, lower])
        rv = np.asarray(r @ other)
        cov = np.linalg.inv(lam[None] + alpha * gram)
        mean = np.einsum("nij,nj->ni", cov, alpha * rv + (lam @ mu)[None])
        chol = np.linalg.cholesky((cov + cov.transpose(0, 2, 1)) / 2)
        return mean + np.einsum("nij,nj->ni", chol, rng.standard_normal(mean.shape)), gram, rv

    @staticmethod
    def _squared_residuals(total: float, u: np.ndarray, gram: np.ndarray, rv: np.ndarray) -> float:
        """``sum (r_ij - u_i.v_j)^2`` over the ratings, from ``total = sum r_ij^2`` and the rows'
        Gram matrices and rating sums: ``total - 2 sum_i u_i.rv_i + sum_i u_i' G_i u_i``."""
        squared = total - 2.0 * float(np.einsum("nd,nd->", u, rv)) + float(np.einsum("nd,nde,ne->", u, gram, u))
        return max(squared, 0.0)  # never below zero through rounding

    def fit(self, data: Interactions, **side_info: Any) -> Self:
        rng = np.random.default_rng(self.seed)
        self.data = data
        r = data.csr().astype(np.float64)
        self.mean_ = float(r.data.mean()) if r.nnz else 3.0
        self.bounds_ = (float(r.data.min()), float(r.data.max())) if r.nnz else (1.0, 5.0)
        centered = r.copy()
        centered.data -= self.mean_
        centered_t = centered.T.tocsr()
        d = self.factors
        u = 0.1 * rng.standard_normal((data.n_users, d))
        v = 0.1 * rng.standard_normal((data.n_items, d))
        alpha = 2.0
        total = float(centered.data @ centered.data)
        kept_u, kept_v, kept_hyper = [], [], []
        for it in range(self.burn_in + self.samples):
            mu_v, lam_v = self._sample_hyper(rng, v)
            v = self._sample_side(rng, centered_t, u, mu_v, lam_v, alpha)[0]
            mu_u, lam_u = self._sample_hyper(rng, u)
            u, gram, rv = self._sample_side(rng, centered, v, mu_u, lam_u, alpha)
            squared = self._squared_residuals(total, u, gram, rv)
            alpha = rng.gamma(1.0 + r.nnz / 2.0, 1.0 / (1.0 + 0.5 * squared))
            if it >= self.burn_in:
                kept_u.append(u.astype(np.float32))
                kept_v.append(v.astype(np.float32))
                kept_hyper.append((mu_u, lam_u, alpha))
        s = len(kept_u)
        self.user_factors = np.hstack(kept_u) / s
        self.item_factors = np.hstack(kept_v)
        # a short list of posterior samples is enough to fold in new users
        self.hyper_ = kept_hyper[:: max(1, s // 10)]
        self.item_samples_ = kept_v[:: max(1, s // 10)]
        return self

    # -------------------------------------------------------------- prediction
    def _clip(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x + self.mean_, *self.bounds_)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Ratings of (user, item) pairs of trained indices; unknown pairs get the global mean."""
        users, items = np.asarray(users), np.asarray(items)
        ok = (users >= 0) & (users < self.data.n_users) & (items >= 0) & (items < self.data.n_items)
        out = np.full(len(users), self.mean_, dtype=np.float64)
        out[ok] = self._clip(np.einsum("nd,nd->n", self.user_factors[users[ok]], self.item_factors[items[ok]]))
        return out

    def _fold_in(self, events: list[Event]) -> np.ndarray:
        idx = np.array([e[0] for e in events])
        ratings = np.array([e[1] for e in events]) - self.mean_
        preds = []
        for (mu, lam, alpha), v in zip(self.hyper_, self.item_samples_, strict=True):
            vh = v[idx].astype(np.float64)
            mean = np.linalg.solve(lam + alpha * vh.T @ vh, alpha * vh.T @ ratings + lam @ mu)
            preds.append(v @ mean)
        return np.mean(preds, axis=0)

    def _score_events(self, events: list[Event], user: int | None) -> np.ndarray:
        if user is not None and not self._adhoc:
            if len(self.data.seen(user)) == 0 and not events:
                return np.full(self.n_items, np.nan)
            return self._clip(self.item_factors @ self.user_factors[user]).astype(np.float64)
        if not events:
            return np.full(self.n_items, np.nan)
        return self._clip(self._fold_in(events))

    def _score_rows(self, matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        scores = self._clip(self.user_factors[users] @ self.item_factors.T).astype(np.float64)
        scores[np.diff(matrix.indptr) == 0] = np.nan
        return scores
