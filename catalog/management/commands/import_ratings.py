from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.datasets import DatasetError, load_csv
from catalog.importing import import_dataset


class Command(BaseCommand):
    help = (
        "Import ratings (CSV: user_id,item_id,rating,timestamp) and optionally items "
        "(CSV: item_id,title,genres,description; genres separated by |). See docs/DATA.md. "
        "Idempotent; one transaction."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ratings", required=True, type=Path)
        parser.add_argument("--items", type=Path)
        parser.add_argument("--namespace", default="csv",
                            help="Prefix of the imported users' and items' ids (default: csv).")
        parser.add_argument("--no-progress", action="store_true", help="Hide progress bars.")

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        namespace = options["namespace"]
        if not namespace.replace("-", "").isalnum():
            raise CommandError("--namespace may hold only letters, digits and dashes")
        try:
            dataset = load_csv(options["ratings"], options["items"])
            report = import_dataset(dataset, namespace=namespace, progress=not options["no_progress"])
        except DatasetError as exc:
            raise CommandError(f"nothing was imported: {exc}") from None
        self.stdout.write(str(report))
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s")
