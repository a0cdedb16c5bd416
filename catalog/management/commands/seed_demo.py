from typing import Any

from django.core.management.base import BaseCommand

from catalog.demo import DEMO_SHOPPER, DEMO_STAFF, REVIEW_TEXTS, seed_demo


class Command(BaseCommand):
    help = "Create the demo shopper and staff accounts and attach the team's review texts (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        made = seed_demo()
        self.stdout.write(
            f"{made['accounts']} accounts created, {made['review_texts']} of {len(REVIEW_TEXTS)} review texts added"
        )
        self.stdout.write(f"  shopper: {DEMO_SHOPPER[0]} / {DEMO_SHOPPER[1]}")
        self.stdout.write(f"  staff:   {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  (admin at /admin/)")
