from __future__ import annotations

import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Offline evaluation on dataset files (no database needed): the same as "
        "`python -m recommender.evaluation`; every option is passed through (see --help there)."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        from recommender.evaluation.__main__ import main

        sys.exit(main(argv[2:]))  # the CLI prints its own errors and exits non-zero on them
