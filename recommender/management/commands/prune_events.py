from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommender.privacy import events_prune


class Command(BaseCommand):
    help = ("Delete anonymous visitors' events and impressions older than the retention period "
            "(Celery beat does this daily; see docs/PRIVACY.md).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help=(
            f"keep this many days (default RECSYS_EVENT_RETENTION_DAYS, now {settings.RECSYS_EVENT_RETENTION_DAYS}; "
            "0 keeps everything)"))
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = events_prune(days=options["days"], dry_run=options["dry_run"],
                                  progress=not options["no_progress"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if result["cutoff"] is None:
            self.stdout.write("retention is off (0 days): nothing deleted")
            return
        before = f"events from before {result['cutoff']:%Y-%m-%d %H:%M} UTC"
        if options["dry_run"]:
            self.stdout.write(f"would delete {result['would_delete']} {before}")
        else:
            self.stdout.write(f"deleted {result['deleted']} {before}")
