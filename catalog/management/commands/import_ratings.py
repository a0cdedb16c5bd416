from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.datasets import DatasetError, load_csv
from catalog.importing import check_namespace, import_dataset


class Command(BaseCommand):
    help = (
        "Import ratings (CSV: user_id,item_id,rating,timestamp), items (CSV: item_id,title and "
        "optionally year, genres, description, price, image_url; genres separated by |), or both. "
        "See docs/DATA.md. Idempotent; one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ratings", type=Path, help="Ratings CSV (needed unless --items is given).")
        parser.add_argument("--items", type=Path, help="Items CSV: the catalogue, with or without ratings.")
        parser.add_argument("--namespace", default="csv",
                            help="Prefix of the imported users' and items' ids (default: csv).")
        parser.add_argument("--no-progress", action="store_true", help="Hide progress bars.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        if options["ratings"] is None and options["items"] is None:
            raise CommandError("give --ratings, --items or both")
        try:
            check_namespace(options["namespace"])  # before reading a large file
            dataset = load_csv(options["ratings"], options["items"])
            report = import_dataset(dataset, namespace=options["namespace"], progress=not options["no_progress"])
        except DatasetError as exc:
            raise CommandError(f"nothing was imported: {exc}") from None
        self.stdout.write(str(report))
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s")
