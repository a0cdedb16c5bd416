"""A/B experiments: sticky assignment by hashing, and per-variant online metrics.

A unit (a signed-in user, else the anonymous session) is hashed with the experiment key into
one of 10,000 buckets, and buckets are split by the variants' weights: the same unit always
gets the same variant, with no table of assignments to keep. Impressions and clicks carry the
experiment and variant in their event context; a unit converts when it buys after its first
impression in the experiment.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Q

from catalog.models import Event, EventKind
from recommender.models import Experiment

BUCKETS = 10_000
ALGORITHMS = {"hybrid", "ease", "popularity"}
PARAMS = {"algorithm", "diversity", "fairness"}


def variants_validate(variants: Any) -> None:
    """Raise ValidationError unless ``variants`` is a well-formed list of variants."""
    if not isinstance(variants, list) or len(variants) < 2:
        raise ValidationError({"variants": "Give at least two variants."})
    names = set()
    for n, variant in enumerate(variants, start=1):
        if not isinstance(variant, dict) or not isinstance(variant.get("name"), str) or not variant["name"]:
            raise ValidationError({"variants": f"Variant {n} needs a name."})
        if variant["name"] in names:
            raise ValidationError({"variants": f"Variant name {variant['name']!r} is used twice."})
        names.add(variant["name"])
        weight = variant.get("weight", 1)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
            raise ValidationError({"variants": f"Variant {variant['name']!r} needs a positive weight."})
        params = variant.get("params", {})
        if not isinstance(params, dict) or set(params) - PARAMS:
            raise ValidationError({"variants": f"Variant {variant['name']!r}: params may only set {sorted(PARAMS)}."})
        if params.get("algorithm", "hybrid") not in ALGORITHMS:
            raise ValidationError(
                {"variants": f"Variant {variant['name']!r}: algorithm is one of {sorted(ALGORITHMS)}."}
            )
        for key in ("diversity", "fairness"):
            value = params.get(key)
            if value is not None and (not isinstance(value, (int, float)) or not 0 <= value <= 1):
                raise ValidationError({"variants": f"Variant {variant['name']!r}: {key} is a number from 0 to 1."})


def bucket(key: str, unit: str) -> int:
    digest = hashlib.sha256(f"{key}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_for(experiment: Experiment, unit: str) -> dict[str, Any]:
    """The unit's variant: deterministic in (experiment key, unit), proportional to weights."""
    total = sum(float(v.get("weight", 1)) for v in experiment.variants)
    point = bucket(experiment.key, unit) / BUCKETS * total
    for variant in experiment.variants:
        point -= float(variant.get("weight", 1))
        if point < 0:
            return variant
    return experiment.variants[-1]


def unit_of(user: AbstractBaseUser | None, session_key: str) -> str:
    return f"u{user.pk}" if user is not None and user.is_authenticated else f"s{session_key}"


def assignment(user: AbstractBaseUser | None, session_key: str) -> tuple[Experiment | None, dict[str, Any]]:
    experiment = Experiment.objects.filter(is_active=True).first()
    if experiment is None or not (user or session_key):
        return None, {}
    return experiment, variant_for(experiment, unit_of(user, session_key))


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (good for small counts and rates near 0)."""
    if trials == 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class VariantStats:
    name: str
    params: dict[str, Any]
    impressions: int
    clicks: int
    units: int
    converters: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def ctr_ci(self) -> tuple[float, float]:
        return wilson(self.clicks, self.impressions)

    @property
    def conversion(self) -> float:
        return self.converters / self.units if self.units else 0.0

    @property
    def conversion_ci(self) -> tuple[float, float]:
        return wilson(self.converters, self.units)


def _unit_expr(row: dict[str, Any]) -> str:
    return f"u{row['user_id']}" if row["user_id"] else f"s{row['session_key']}"


def experiment_report(experiment: Experiment) -> list[VariantStats]:
    """Click-through (clicks / impressions) and conversion (exposed units that bought after
    their first impression / exposed units) per variant."""
    tagged = Event.objects.filter(context__exp=experiment.key)
    counts = {
        (row["context__variant"], row["kind"]): row["n"]
        for row in tagged.filter(kind__in=[EventKind.IMPRESSION, EventKind.CLICK])
        .values("context__variant", "kind").annotate(n=Count("id"))
    }
    first_seen: dict[str, dict[str, Any]] = {}
    for row in (
        tagged.filter(kind=EventKind.IMPRESSION).values("context__variant", "user_id", "session_key")
        .annotate(first=Min("created_at"))
    ):
        first_seen[_unit_expr(row)] = {"variant": row["context__variant"], "first": row["first"]}
    converters: dict[str, set[str]] = {}
    users = [int(unit[1:]) for unit in first_seen if unit.startswith("u")]
    sessions = [unit[1:] for unit in first_seen if unit.startswith("s")]
    purchases = Event.objects.filter(kind=EventKind.PURCHASE).filter(
        Q(user_id__in=users) | Q(user__isnull=True, session_key__in=sessions)
    ).values("user_id", "session_key", "created_at")
    for row in purchases:
        seen = first_seen.get(_unit_expr(row))
        if seen and row["created_at"] >= seen["first"]:
            converters.setdefault(seen["variant"], set()).add(_unit_expr(row))
    units: dict[str, int] = {}
    for seen in first_seen.values():
        units[seen["variant"]] = units.get(seen["variant"], 0) + 1
    return [
        VariantStats(
            name=v["name"], params=v.get("params", {}),
            impressions=counts.get((v["name"], EventKind.IMPRESSION), 0),
            clicks=counts.get((v["name"], EventKind.CLICK), 0),
            units=units.get(v["name"], 0), converters=len(converters.get(v["name"], ())),
        )
        for v in experiment.variants
    ]
