"""Privacy: a user's data export and erasure, and the retention of anonymous activity.

Erasure deletes the account and, through cascades, reviews, events, profile and their
vectors; it also forgets the user's anonymous session state. Trained models are rebuilt from
the database, so the next trained version no longer reflects the user (see
``docs/PRIVACY.md``). Anonymous visitors' events and everyone's impressions are deleted once
older than ``RECSYS_EVENT_RETENTION_DAYS``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from tqdm import tqdm

from catalog import services
from catalog.models import CartLine, Event, EventKind, HistoryExclusion, Profile, Review, ReviewReport, SavedItem
from recommender.experiments import results_freeze
from recommender.models import Experiment
from recommender.serving import TRENDING_DAYS


def _timestamp(moment: datetime | None) -> str | None:
    """As the API writes times (DRF's ``DateTimeField``): ISO 8601 in UTC, ending in ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _profile_dict(user: AbstractBaseUser) -> dict[str, Any] | None:
    profile = Profile.objects.filter(user=user).first()
    if profile is None:
        return None
    return {
        "interests": profile.interests, "age": profile.age, "gender": profile.gender,
        "occupation": profile.occupation, "demographics_consent": profile.demographics_consent,
        "personalization_opt_out": profile.personalization_opt_out, "onboarded": profile.onboarded,
    }


def _added(lines: QuerySet[CartLine] | QuerySet[SavedItem]) -> list[dict[str, Any]]:
    """A cart's or a list's films, with when each was added (also films no longer sold)."""
    return [{"item": line.item.external_id, "title": line.item.display_title, "added_at": _timestamp(line.added_at)}
            for line in lines.select_related("item")]


def user_export(*, user: AbstractBaseUser) -> dict[str, Any]:
    """Everything stored about ``user``, as JSON-ready data."""
    reviews = [
        {"item": r.item.external_id, "title": r.item.display_title, "rating": float(r.rating), "text": r.text,
         "hidden": r.is_hidden, "created_at": _timestamp(r.created_at)}
        for r in Review.objects.filter(user=user).select_related("item").order_by("created_at", "id")
    ]
    events = [
        {"item": external_id, "kind": kind, "value": value, "context": context, "session_key": session_key,
         "created_at": _timestamp(created_at)}
        for external_id, kind, value, context, session_key, created_at in Event.objects.filter(user=user)
        .order_by("created_at", "id")
        .values_list("item__external_id", "kind", "value", "context", "session_key", "created_at")
        .iterator(chunk_size=5000)
    ]
    return {
        "account": {
            "username": user.get_username(), "email": getattr(user, "email", ""),
            "date_joined": _timestamp(getattr(user, "date_joined", None)),
            "last_login": _timestamp(user.last_login),
        },
        "profile": _profile_dict(user),
        "profile_has_embedding": Profile.objects.filter(user=user, embedding__isnull=False).exists(),
        "reviews": reviews,
        "events": events,
        "not_used_for_recommendations": [
            {"item": x.item.external_id, "title": x.item.display_title, "since": _timestamp(x.created_at)}
            for x in HistoryExclusion.objects.filter(user=user).select_related("item").order_by("created_at", "id")
        ],
        "cart": _added(CartLine.objects.filter(user=user)),
        "my_list": _added(SavedItem.objects.filter(user=user)),
        "review_reports": [
            {"review": x.review_id, "item": x.review.item.external_id, "reason": x.reason, "note": x.note,
             "created_at": _timestamp(x.created_at)}
            for x in ReviewReport.objects.filter(user=user).select_related("review__item").order_by("created_at", "id")
        ],
    }


@transaction.atomic
def user_erase(*, user: AbstractBaseUser, session_keys: list[str] | None = None) -> dict[str, int]:
    """Delete ``user`` and everything derived from them; returns counts of what went."""
    counts = {
        "reviews": Review.objects.filter(user=user).count(),
        "events": Event.objects.filter(user=user).count(),
    }
    # the current session, which the user's events may not name; the sessions they name go with
    # the account (catalog.services.account_deleting, on pre_delete)
    services.sessions_forget(session_keys=session_keys or [])
    user.delete()  # cascades: reviews, events, profile, and their embeddings
    return counts


def events_prune(*, days: int | None = None, dry_run: bool = False, batch: int = 10_000,
                 progress: bool = False) -> dict[str, Any]:
    """Delete the events nothing needs after ``days`` (``RECSYS_EVENT_RETENTION_DAYS``; 0 keeps
    everything): anonymous visitors' events (their session, and so their cart and session
    signals, expired long before) and impressions (click-through statistics), both older than
    ``days``. Kept: a signed-in shopper's own actions (their history, until they delete them
    with the account), and, while an experiment runs, every event since it started (its
    conversions need the purchases of its anonymous sessions too). Stopped experiments have
    their results frozen first. Batches of ``batch`` rows, each its own transaction, so a big
    backlog never holds one long lock and an interrupted run just resumes."""
    days = settings.RECSYS_EVENT_RETENTION_DAYS if days is None else days
    if days == 0:
        return {"deleted": 0, "cutoff": None}
    if days < TRENDING_DAYS:
        raise ValueError(f"keep events at least {TRENDING_DAYS} days (got {days}): the trending row counts the last "
                         f"{TRENDING_DAYS} days of activity; 0 keeps them all")
    # stopped before results were kept (migration recommender 0004 gave those that ran a start)
    for stopped in Experiment.objects.filter(is_active=False, results__isnull=True, started_at__isnull=False):
        results_freeze(stopped)
        stopped.save(update_fields=["results"])
    cutoff = timezone.now() - timedelta(days=days)
    running = Experiment.objects.filter(is_active=True).first()
    if running is not None:
        cutoff = min(cutoff, running.started_at or running.created_at)
    old = Event.objects.filter(Q(user=None) | Q(kind=EventKind.IMPRESSION), created_at__lt=cutoff)
    if dry_run:
        return {"deleted": 0, "would_delete": old.count(), "cutoff": cutoff}
    deleted, last = 0, 0  # counted for the bar only: the daily task has none
    with tqdm(total=old.count() if progress else None, desc="prune events", unit="event", disable=not progress) as bar:
        while True:  # each batch is an id range (a DELETE of 10,000 listed ids spent 0.2 s parsing them)
            edge = list(old.filter(id__gt=last).order_by("id").values_list("id", flat=True)[batch - 1:batch])
            n, _ = old.filter(id__gt=last, **({"id__lte": edge[0]} if edge else {})).delete()
            deleted += n
            bar.update(n)
            if not edge:
                return {"deleted": deleted, "cutoff": cutoff}
            last = edge[0]
