"""Promotions (``models.Promotion``): the store's featured films, one card each in the feed.

Serving reads the running promotions from the shared cache (one entry, dropped whenever staff
save or delete a promotion, so every process sees a change at once), and a promotion that is
scheduled starts and ends on time because the entry holds its dates, not whether it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from recommender.models import Promotion

CACHE_KEY = "recsite:promotions"
CACHE_SECONDS = 600
MAX_PER_FEED = 2  # promoted cards in one feed at most, whatever number of promotions run


@dataclass(frozen=True)
class LivePromotion:
    pk: int
    name: str
    position: int  # 1 = the feed's first card
    items: tuple[int, ...]


def live_promotions() -> list[LivePromotion]:
    """The promotions running now, by position."""
    rows = cache.get(CACHE_KEY)
    if rows is None:
        # the not yet started ones too: the entry stays right when their start comes
        promotions = (Promotion.objects.filter(is_active=True)
                      .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now())).prefetch_related("items"))
        rows = [(p.pk, p.name, p.position, tuple(sorted(i.pk for i in p.items.all())), p.starts_at, p.ends_at)
                for p in promotions]
        cache.set(CACHE_KEY, rows, CACHE_SECONDS)
    now = timezone.now()
    return [LivePromotion(pk, name, position, items) for pk, name, position, items, starts, ends in rows
            if _within(starts, ends, now) and items]


def _within(starts: datetime, ends: datetime | None, now: datetime) -> bool:
    """Whether ``now`` falls in a promotion's dates (the one rule for the feed and the admin)."""
    return starts <= now and (ends is None or ends > now)


def promotions_changed(**kwargs: Any) -> None:
    """Receiver of a promotion's (or its film list's) save and delete: drop the cached list
    once the change commits."""
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))


def promotion_status(promotion: Promotion, now: datetime | None = None) -> str:
    """"running", "scheduled", "ended" or "off", for the admin."""
    now = now or timezone.now()
    if not promotion.is_active:
        return "off"
    if _within(promotion.starts_at, promotion.ends_at, now):
        return "running"
    return "scheduled" if promotion.starts_at > now else "ended"
