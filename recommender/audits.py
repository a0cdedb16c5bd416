"""Bias and fairness audits of the live recommender.

For a sample of users, each user's latest ratings are held out, the active model recommends
from the rest (the ad-hoc history path serving uses), the live fairness re-ranker applies,
and the lists are measured: popularity bias, exposure Lorenz curve and Gini, coverage, genre
calibration, each genre's exposure against its catalogue share, accuracy gaps between groups
of consenting users, and the NDCG / Gini trade-off across fairness strengths. Next to the
model's lists, what the store actually showed: the last 30 days of impressions
(:func:`observed_exposure`), promotions and every row included.

Caveat, stated in every run: the live model was trained on the held-out ratings too, so the
accuracy figures are optimistic; they are for comparing groups and strengths, not for
reporting accuracy (``manage.py evaluate`` does that on proper splits).
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.utils import timezone
from tqdm import tqdm

from catalog.models import EventKind, Item, Profile, Review
from recommender import serving
from recommender.algorithms.data import Profile as LiveProfile
from recommender.algorithms.rerank import fairness_rerank
from recommender.evaluation import fairness as fm
from recommender.evaluation.metrics import catalog_coverage, gini, ndcg_at_k, recall_at_k
from recommender.models import AuditRun
from recommender.selectors import EXPOSURE_DAYS, shown_events

STRENGTHS = tuple(n / 10 for n in range(11))  # 0.0, 0.1, ..., 1.0
MIN_RATINGS = 5
GROUP_FIELDS = ("gender", "age_bracket", "occupation")


def sample_users(sample: int | None, seed: int) -> list[int]:
    """Users with enough visible ratings who have not opted out (erased users are gone)."""
    opted_out = Profile.objects.filter(personalization_opt_out=True).values("user_id")
    rows = (
        Review.objects.filter(is_hidden=False).exclude(user_id__in=opted_out)
        .values("user_id").annotate(n=Count("id")).filter(n__gte=MIN_RATINGS)
    )
    eligible = sorted(row["user_id"] for row in rows)
    if sample is not None and sample < len(eligible):
        eligible = sorted(random.Random(seed).sample(eligible, sample))
    return eligible


def audit_compute(*, sample: int | None = 200, k: int = 10, seed: int = 0, holdout: float = 0.2,
                  progress: bool = True) -> dict[str, Any]:
    """Run the audit and return its metrics (nothing is stored)."""
    version, model = serving.active_model()
    if model is None:
        raise ValueError("no trained model is active: run `python manage.py train` first")
    users = sample_users(sample, seed)
    if not users:
        raise ValueError("no users with enough ratings to audit")
    index = model.index_of_pk
    n_items = len(model.item_pks)
    genres_by_pk = dict(Item.objects.values_list("pk", "genres"))
    item_genres = [genres_by_pk.get(int(pk), []) for pk in model.item_pks]
    popularity = np.asarray(model.data.item_counts(), dtype=float)
    profiles = {p.user_id: p for p in Profile.objects.filter(user_id__in=users)}
    ratings: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
    for user_id, pk, rating, created in Review.objects.filter(user_id__in=users, is_hidden=False).values_list(
        "user_id", "item_id", "rating", "created_at"
    ):
        if pk in index:
            ratings[user_id].append((index[pk], float(rating), int(created.timestamp())))
    pools, held, histories, audited = [], [], [], []
    started = time.monotonic()
    for user_id in tqdm(users, desc="audit", unit="user", disable=not progress):
        events = sorted(ratings.get(user_id, []), key=lambda e: e[2])
        n_held = max(1, math.ceil(holdout * len(events)))
        if len(events) - n_held < 1:
            continue
        train, test = events[:-n_held], events[-n_held:]
        idx, scores = model.recommend(LiveProfile(events=train), k=serving.POOL, exclude=[e[0] for e in train])
        pools.append((np.asarray(idx), np.asarray(scores)))
        held.append({e[0] for e in test})
        histories.append(train)
        audited.append(user_id)

    prices = getattr(model, "exposure_prices", None)  # serving's re-ranker, with the model's prices

    def lists_at(strength: float) -> list[list[int]]:
        if prices is None:
            return [idx[:k].tolist() for idx, _ in pools]
        return [fairness_rerank(idx.tolist(), sc, prices.of(idx, strength), k=k)[:k] for idx, sc in pools]

    tradeoff = []
    for strength in STRENGTHS:
        lists = lists_at(strength)
        tradeoff.append({
            "strength": strength,
            "ndcg": float(np.mean([ndcg_at_k(lst, rel, k) for lst, rel in zip(lists, held, strict=True)])),
            "gini": gini(fm.exposure_counts(lists, n_items)),
        })
    live_strength = float(settings.RECSYS_FAIRNESS)
    lists = lists_at(live_strength)
    exposure = fm.exposure_counts(lists, n_items)
    tail = fm.long_tail_mask(popularity)
    kls = [
        fm.calibration_kl(fm.genre_distribution([e[0] for e in hist], item_genres, [e[1] for e in hist]),
                          fm.genre_distribution(lst, item_genres))
        for hist, lst in zip(histories, lists, strict=True)
    ]
    per_user = {
        user_id: {"ndcg": ndcg_at_k(lst, rel, k), "recall": recall_at_k(lst, rel, k)}
        for user_id, lst, rel in zip(audited, lists, held, strict=True)
    }
    active_pks = set(Item.objects.active().values_list("pk", flat=True))
    active = [i for i, pk in enumerate(model.item_pks) if int(pk) in active_pks]
    return {
        "users": len(audited),
        "k": k,
        "live_fairness_strength": live_strength,
        "model_version": version.pk,
        "seconds": round(time.monotonic() - started, 1),
        "ndcg": float(np.mean([u["ndcg"] for u in per_user.values()])),
        "recall": float(np.mean([u["recall"] for u in per_user.values()])),
        "avg_popularity": float(np.mean([popularity[i] for lst in lists for i in lst])),
        "catalog_avg_popularity": float(popularity.mean()),
        "long_tail_share": fm.long_tail_share(lists, tail),
        "catalog_long_tail_share": float(tail.mean()),
        "gini": gini(exposure),
        "lorenz": fm.lorenz_curve(exposure),
        "coverage": catalog_coverage(lists, n_items),
        "calibration_kl": float(np.mean(kls)) if kls else 0.0,
        "popularity_deciles": fm.popularity_decile_exposure(lists, popularity),
        "genre_exposure": fm.genre_exposure_vs_catalog(lists, item_genres, active),
        "groups": _group_gaps(per_user, profiles),
        "tradeoff": tradeoff,
        "observed": observed_exposure(),
        "caveat": "The live model was trained on the held-out ratings too: accuracy is optimistic and "
                  "meant for comparing groups and strengths.",
    }


def observed_exposure(*, days: int = EXPOSURE_DAYS) -> dict[str, Any]:
    """What the store actually showed in the last ``days``: every recommendation card's
    impression, whatever placed it (the model, the re-rankers, an experiment's arm, a promotion,
    trending, new arrivals, an API client's row), over the films for sale now. The model audit
    above measures the model's lists; this measures the shop."""
    impressions = shown_events(days=days).filter(kind=EventKind.IMPRESSION)
    counts = dict(impressions.values_list("item_id").annotate(n=Count("id")).values_list("item_id", "n"))
    catalogue = list(Item.objects.active().values_list("pk", "review_count"))
    exposure = np.asarray([counts.get(pk, 0) for pk, _ in catalogue], dtype=float)
    total = float(exposure.sum())
    if not total:
        return {"days": days, "impressions": 0}
    tail = fm.long_tail_mask(np.asarray([n for _, n in catalogue], dtype=float))
    rows = impressions.filter(item__is_active=True).values(row=KT("context__src")).annotate(
        n=Count("id"), featured=Count("id", filter=Q(context__has_key="promo")))
    return {
        "days": days,
        "impressions": int(total),
        "gini": gini(exposure),
        "coverage": float(np.count_nonzero(exposure) / len(exposure)),
        "long_tail_share": float(exposure[tail].sum() / total),
        "featured_share": sum(row["featured"] for row in rows) / total,
        "rows": {row["row"]: row["n"] / total for row in sorted(rows, key=lambda r: (-r["n"], r["row"]))},
        "lorenz": fm.lorenz_curve(exposure),
    }


def _group_gaps(per_user: dict[int, dict[str, float]], profiles: dict[int, Profile]) -> dict[str, Any]:
    """Mean NDCG and recall per group, for users who consented to demographic audits only."""
    out: dict[str, Any] = {}
    for field in GROUP_FIELDS:
        groups: dict[str, list[dict[str, float]]] = defaultdict(list)
        for user_id, scores in per_user.items():
            profile = profiles.get(user_id)
            if profile is None or not profile.demographics_consent:
                continue
            value = fm.age_bracket(profile.age) if field == "age_bracket" else getattr(profile, field)
            if value:
                groups[str(value)].append(scores)
        table = {
            name: {"users": len(rows), "ndcg": float(np.mean([r["ndcg"] for r in rows])),
                   "recall": float(np.mean([r["recall"] for r in rows]))}
            for name, rows in sorted(groups.items())
        }
        ndcgs = [row["ndcg"] for row in table.values() if row["users"] >= 5]
        out[field] = {"groups": table, "ndcg_gap": (max(ndcgs) - min(ndcgs)) if len(ndcgs) > 1 else 0.0}
    return out


def audit_execute(run: AuditRun, *, progress: bool = False) -> AuditRun:
    """Compute ``run`` with its stored params and save the result (or the error)."""
    run.status = AuditRun.Status.RUNNING
    run.save(update_fields=["status"])
    try:
        metrics = audit_compute(progress=progress, **run.params)
    except Exception as exc:  # stored for staff to see, then re-raised for the caller's logs
        run.status, run.error, run.finished_at = AuditRun.Status.FAILED, str(exc), timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise
    run.metrics, run.status, run.finished_at = metrics, AuditRun.Status.DONE, timezone.now()
    run.model_version_id = metrics["model_version"]
    run.save(update_fields=["metrics", "status", "finished_at", "model_version"])
    return run


def audit_create(*, sample: int | None = 200, k: int = 10, seed: int = 0, holdout: float = 0.2) -> AuditRun:
    if sample is not None and sample < 1:
        raise ValueError("sample must be at least 1 (or None for all users)")
    if not 1 <= k <= 100:
        raise ValueError("k must be between 1 and 100")
    if not 0 < holdout < 1:
        raise ValueError("holdout must be between 0 and 1")
    return AuditRun.objects.create(params={"sample": sample, "k": k, "seed": seed, "holdout": holdout})
