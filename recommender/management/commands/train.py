from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recommender.models import ModelVersion
from recommender.training import model_train


class Command(BaseCommand):
    help = "Train the hybrid recommender on the current data, save a versioned artifact and activate it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-activate", action="store_true", help="save the version without serving it")
        parser.add_argument("--if-missing", action="store_true", help="only when no version is active yet")

    def handle(self, *args, **options) -> None:
        if options["if_missing"] and ModelVersion.objects.filter(is_active=True).exists():
            self.stdout.write("a trained model is already active")
            return
        try:
            version = model_train(seed=options["seed"], activate=not options["no_activate"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{version}: {version.n_users} users, {version.n_items} items, {version.n_interactions} interactions, "
            f"trained in {version.training_seconds:.1f} s"
        )
