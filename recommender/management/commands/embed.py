from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from recommender.embedding import SOURCES, embed_many, enqueue, pending_ids

BATCH = 256


class Command(BaseCommand):
    help = "Embed items, reviews and profiles into pgvector (default: rows whose vector is missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--missing", action="store_true", help="rows without a vector or from another model")
        which.add_argument("--stale", action="store_true", help="also rows whose text changed since")
        which.add_argument("--all", action="store_true", help="every row, even unchanged ones")
        parser.add_argument("--kind", choices=sorted(SOURCES), action="append", help="only this kind (repeatable)")
        parser.add_argument("--queue", action="store_true", help="hand the work to Celery workers instead")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        kinds = options["kind"] or list(SOURCES)
        try:
            plan = {k: pending_ids(kind=k, stale=options["stale"], everything=options["all"]) for k in kinds}
        except Exception as exc:
            raise CommandError(f"could not read the rows to embed: {exc}") from exc
        total = sum(len(ids) for ids in plan.values())
        if options["queue"]:
            tasks = sum(enqueue(kind=k, ids=ids) for k, ids in plan.items())
            self.stdout.write(f"queued {total} rows in {tasks} tasks")
            return
        counts = {"embedded": 0, "skipped": 0, "removed": 0}
        with tqdm(total=total, unit="row", desc="embed", disable=options["no_progress"]) as bar:
            for kind, ids in plan.items():
                done = embed_many(kind=kind, ids=ids, force=options["all"], batch_size=BATCH, progress=bar.update)
                for key, value in done.items():
                    counts[key] += value
        self.stdout.write(
            f"{counts['embedded']} embedded, {counts['skipped']} unchanged, {counts['removed']} removed "
            f"({', '.join(f'{k}: {len(v)}' for k, v in plan.items())})"
        )
