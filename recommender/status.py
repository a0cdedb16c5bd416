"""The state of the recommender at a glance, for the admin's index page (and ``/metrics``): the
model serving, how much of the catalogue has a current vector, the latest audit, the running
experiment and promotions, and the reviews waiting for a moderator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from catalog.models import Event, EventKind
from catalog.selectors import reviews_reported
from recommender.embedding import SOURCES
from recommender.encoder import model_name
from recommender.models import AuditRun, Experiment, ModelVersion
from recommender.promotions import LivePromotion, live_promotions

# longer than audits take (a minute or two for thousands of users): no worker is picking them up
AUDIT_STALLED = timedelta(minutes=15)


@dataclass(frozen=True)
class Coverage:
    """Rows of one kind (items, reviews with text, profiles with interests) with a vector."""

    kind: str
    eligible: int
    embedded: int  # with a vector from the current model

    @property
    def missing(self) -> int:
        return self.eligible - self.embedded


@dataclass(frozen=True)
class Status:
    model: ModelVersion | None
    actions_since_model: int  # actions (not impressions) recorded after the active model was trained
    embeddings: list[Coverage]
    audit: AuditRun | None  # the newest finished audit
    audit_pending: int  # audits queued or running
    audit_oldest_pending: datetime | None  # when the oldest of them was started
    experiment: Experiment | None  # the running one
    promotions: list[LivePromotion]  # the running ones, by position
    reviews_reported: int  # shown reviews shoppers reported: the moderation queue

    @property
    def audits_stalled(self) -> bool:
        """An audit has waited longer than any takes: no worker is picking them up."""
        return bool(self.audit_oldest_pending and timezone.now() - self.audit_oldest_pending > AUDIT_STALLED)

    @property
    def audit_summary(self) -> dict[str, Any]:
        metrics = self.audit.metrics if self.audit else {}
        return {key: metrics.get(key) for key in ("gini", "coverage", "calibration_kl", "users")}


def system_status() -> Status:
    """A handful of counts (one per kind of vector, no per-row work)."""
    pending = AuditRun.objects.filter(status__in=[AuditRun.Status.PENDING, AuditRun.Status.RUNNING])
    model = ModelVersion.objects.filter(is_active=True).first()
    actions = Event.objects.exclude(kind=EventKind.IMPRESSION)
    since = (actions.filter(created_at__gt=model.created_at) if model else actions).count()
    name = model_name()
    embeddings = []
    for kind, source in SOURCES.items():
        eligible = source.eligible()
        embedded = source.embedding.objects.filter(
            model_name=name, **{f"{source.key}__in": eligible.values("pk")}
        ).count()
        embeddings.append(Coverage(kind=kind, eligible=eligible.count(), embedded=embedded))
    return Status(
        model=model,
        actions_since_model=since,
        embeddings=embeddings,
        audit=AuditRun.objects.filter(status=AuditRun.Status.DONE).first(),
        audit_pending=pending.count(),
        audit_oldest_pending=pending.order_by("created_at").values_list("created_at", flat=True).first(),
        experiment=Experiment.objects.filter(is_active=True).first(),
        promotions=live_promotions(),
        reviews_reported=reviews_reported().count(),
    )
