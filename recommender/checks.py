"""System checks: a setting that would only fail later, in a worker's daily task, stops
``manage.py migrate`` / ``check`` (and so ``make demo`` and a deploy) with the reason instead."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def retention_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """``RECSYS_EVENT_RETENTION_DAYS`` is 0 (keep everything) or at least the trending window."""
    from recommender.serving import TRENDING_DAYS

    days = settings.RECSYS_EVENT_RETENTION_DAYS
    if days == 0 or days >= TRENDING_DAYS:
        return []
    return [Error(
        f"RECSYS_EVENT_RETENTION_DAYS is {days}: it must be 0 (keep events for good) or at least {TRENDING_DAYS}.",
        hint=f"The trending row counts the last {TRENDING_DAYS} days of activity, so the daily deletion "
             "refuses a shorter period (docs/PRIVACY.md).",
        id="recommender.E001",
    )]
