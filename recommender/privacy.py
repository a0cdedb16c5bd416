"""Privacy: a user's data export and erasure.

Erasure deletes the account and, through cascades, reviews, events, profile and their
vectors; it also forgets the user's anonymous session state. Trained models are rebuilt from
the database, so the next trained version no longer reflects the user (see
``docs/PRIVACY.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.db import transaction

from catalog.models import CartLine, Event, HistoryExclusion, Profile, Review, ReviewReport


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
        "cart": [
            {"item": line.item.external_id, "title": line.item.display_title, "added_at": _timestamp(line.added_at)}
            for line in CartLine.objects.filter(user=user).select_related("item")
        ],
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
    keys = {key for key in (session_keys or []) if key}
    keys |= set(Event.objects.filter(user=user).exclude(session_key="").values_list("session_key", flat=True))
    # anonymous events of the same sessions (before the user logged in) go too
    counts["session_events"], _ = Event.objects.filter(user=None, session_key__in=keys).delete()
    Session.objects.filter(session_key__in=keys).delete()
    user.delete()  # cascades: reviews, events, profile, and their embeddings
    return counts
