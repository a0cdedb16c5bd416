"""A/B experiments: sticky assignment by hashing, and per-variant online metrics.

A unit (a signed-in user, else the anonymous session) is hashed with the experiment key into
one of 10,000 buckets, and buckets are split by the variants' weights: the same unit always
gets the same variant, with no table of assignments to keep. Impressions and clicks carry the
experiment and variant in their event context; a unit converts when it buys after its first
impression in the experiment. A stopped experiment keeps its results as they were when it
stopped: event retention (``recommender.privacy.events_prune``) may delete the events behind
them later.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q
from django.db.models.fields.json import KT
from django.utils import timezone

from catalog.models import Event, EventKind, tagged_events
from recommender.models import Experiment

if TYPE_CHECKING:
    from recommender.serving import FeedContext

BUCKETS = 10_000
ALGORITHMS = {"hybrid", "ease", "popularity"}
PARAMS = {"algorithm", "diversity", "fairness", "promotions"}


MAX_WEIGHT = 10_000  # weights are relative shares (percentages, say): no variant needs more
EXAMPLE = '[{"name": "control", "weight": 50}, {"name": "ease", "weight": 50, "params": {"algorithm": "ease"}}]'


def variants_validate(variants: Any) -> None:
    """Raise ValidationError unless ``variants`` is a well-formed list of variants, naming every
    problem of every entry."""
    if not isinstance(variants, list):
        raise ValidationError({"variants": f"Give a list of variants, such as {EXAMPLE}."})
    problems: list[str] = []
    names: set[str] = set()
    for n, variant in enumerate(variants, start=1):
        problems += _variant_problems(n, variant, names)
    if len(variants) < 2:
        problems.append(f"Give at least two variants (there {'is' if len(variants) == 1 else 'are'} "
                        f"{len(variants)}), such as {EXAMPLE}.")
    elif not problems:
        total = sum(float(v.get("weight", 1)) for v in variants)
        problems += [f"Variant {v['name']!r} would get no one: its weight is under 1/{BUCKETS:,} of the total."
                     for v in variants if float(v.get("weight", 1)) / total * BUCKETS < 1]
    if problems:
        raise ValidationError({"variants": problems})


def _variant_problems(n: int, variant: Any, names: set[str]) -> list[str]:
    if not isinstance(variant, dict):
        return [f"Variant {n} is not an object with a name, weight and params: {json.dumps(variant)[:80]}."]
    problems = []
    name = variant.get("name")
    if isinstance(name, str) and name.strip():
        label = f"Variant {n} ({name})"
        if name in names:
            problems.append(f"{label}: the name {name!r} is used twice.")
        names.add(name)
    else:
        label = f"Variant {n}"
        problems.append(f"{label} needs a name (a non-empty string).")
    unknown = set(variant) - {"name", "weight", "params"}
    if unknown:
        problems.append(f"{label}: unknown key(s) {sorted(unknown)}; a variant has name, weight and params.")
    weight = variant.get("weight", 1)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not math.isfinite(weight) \
            or not 0 < weight <= MAX_WEIGHT:
        problems.append(f"{label}: weight must be a number greater than 0 and at most {MAX_WEIGHT:,} "
                        f"(got {json.dumps(weight)[:40]}).")
    params = variant.get("params", {})
    if not isinstance(params, dict):
        return [*problems, f"{label}: params must be an object such as {{\"algorithm\": \"ease\"}}."]
    if set(params) - PARAMS:
        problems.append(f"{label}: params may only set {sorted(PARAMS)}, not {sorted(set(params) - PARAMS)}.")
    algorithm = params.get("algorithm", "hybrid")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        problems.append(f"{label}: algorithm is one of {sorted(ALGORITHMS)}.")
    for key in ("diversity", "fairness"):
        value = params.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                  or not 0 <= value <= 1):
            problems.append(f"{label}: {key} is a number from 0 to 1.")
    if not isinstance(params.get("promotions", True), bool):
        problems.append(f"{label}: promotions is true (the store's featured films shown) or false.")
    return problems


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


def apply(context: FeedContext, user: AbstractBaseUser | None, *, chosen: Collection[str] = ()) -> None:
    """Put a feed request into the running experiment: the unit's variant sets the algorithm,
    diversity, fairness or promotions it names, and ``context`` records the experiment and variant for
    tracking. A request that set itself (named in ``chosen``) a parameter that any variant
    decides stays out, whatever its own variant: its events would be credited to a treatment it
    did not get, and keeping such requests in the arms that do not set it would bias the
    comparison (the control arm would gain them, the treatment not)."""
    running, variant = assignment(user, context.session_key)
    if running is None or set(chosen) & {key for v in running.variants for key in v.get("params", {})}:
        return
    params = variant.get("params", {})
    context.experiment, context.variant = running.key, variant["name"]
    context.algorithm = params.get("algorithm", context.algorithm)
    context.diversity = params.get("diversity", context.diversity)
    context.fairness = params.get("fairness", context.fairness)
    context.promotions = params.get("promotions", context.promotions)


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
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True)

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
    # the variant as text (->>): a value that is no name (an object, a list, written by some
    # client) matches no arm instead of breaking the grouping
    tagged = tagged_events("exp", experiment.key).annotate(arm=KT("context__variant"))
    counts = {
        (row["arm"], row["kind"]): row["n"]
        for row in tagged.filter(kind__in=[EventKind.IMPRESSION, EventKind.CLICK])
        .values("arm", "kind").annotate(n=Count("id"))
    }
    first_seen: dict[str, dict[str, Any]] = {}
    for row in (
        tagged.filter(kind=EventKind.IMPRESSION).values("arm", "user_id", "session_key")
        .annotate(first=Min("created_at"))
    ):
        first_seen[_unit_expr(row)] = {"variant": row["arm"], "first": row["first"]}
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


@transaction.atomic
def experiment_save(experiment: Experiment) -> None:
    """Save ``experiment``, stamping a start (the first one: retention keeps every event from
    then on while it runs) or, on a stop, freezing its results into ``results``."""
    was_running = experiment.pk is not None and Experiment.objects.select_for_update().filter(
        pk=experiment.pk, is_active=True).exists()
    if experiment.is_active and not was_running:
        experiment.started_at = experiment.started_at or timezone.now()
        experiment.stopped_at = experiment.results = None
    elif was_running and not experiment.is_active:
        experiment.stopped_at = timezone.now()
        results_freeze(experiment)
    experiment.save()


def results_freeze(experiment: Experiment) -> None:
    """Keep the report as it is now in ``experiment.results`` (the caller saves)."""
    experiment.results = [asdict(stats) for stats in experiment_report(experiment)]


def experiment_results(experiment: Experiment) -> list[VariantStats]:
    """What the admin shows: live while it runs (or before it ever stopped), else the results
    frozen when it stopped."""
    if experiment.is_active or experiment.results is None:
        return experiment_report(experiment)
    return [VariantStats(**row) for row in experiment.results]
