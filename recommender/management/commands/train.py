from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommender.models import ModelVersion
from recommender.training import model_train


class Command(BaseCommand):
    help = "Train the hybrid recommender on the current data, save a versioned artifact and activate it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-activate", action="store_true", help="save the version without serving it")
        parser.add_argument("--if-missing", action="store_true", help="only when no version is active yet")
        parser.add_argument("--keep", type=int, default=None, metavar="N", help=(
            "then delete all but the N newest model versions and their files (default RECSYS_KEEP_MODELS, 5; "
            "the active one is always kept). --keep 1 after an erasure: no older model remembers the user"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_missing"] and ModelVersion.objects.filter(is_active=True).exists():
            self.stdout.write("a trained model is already active")
            return
        try:
            version = model_train(seed=options["seed"], activate=not options["no_activate"], keep=options["keep"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{version}: {version.n_users} users, {version.n_items} items, {version.n_interactions} interactions, "
            f"trained in {version.training_seconds:.1f} s"
        )
