from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommender.audits import audit_create, audit_execute


class Command(BaseCommand):
    help = "Audit the live recommender for popularity bias, exposure fairness, calibration and group gaps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=200, help="users to sample (default 200)")
        parser.add_argument("--all", action="store_true", help="audit every eligible user")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--holdout", type=float, default=0.2, help="share of each user's latest ratings held out")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = audit_create(sample=None if options["all"] else options["sample"], k=options["k"],
                               seed=options["seed"], holdout=options["holdout"])
            run = audit_execute(run, progress=not options["no_progress"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        m = run.metrics
        self.stdout.write(
            f"{run}: {m['users']} users, NDCG@{m['k']} {m['ndcg']:.4f}, exposure Gini {m['gini']:.4f}, "
            f"coverage {m['coverage']:.4f}, long-tail share {m['long_tail_share']:.4f}, "
            f"calibration KL {m['calibration_kl']:.4f}"
        )
        best = [row for row in m["tradeoff"] if row["ndcg"] >= 0.97 * m["tradeoff"][0]["ndcg"]]
        if best:
            row = min(best, key=lambda r: r["gini"])
            self.stdout.write(f"fairness strength {row['strength']}: Gini {row['gini']:.4f}, NDCG {row['ndcg']:.4f}")
        seen = m["observed"]
        if seen["impressions"]:
            self.stdout.write(
                f"shown in the store ({seen['days']} days): {seen['impressions']:,} impressions, exposure Gini "
                f"{seen['gini']:.4f}, coverage {seen['coverage']:.4f}, long-tail share {seen['long_tail_share']:.4f}, "
                f"featured {seen['featured_share']:.4f}")
        else:
            self.stdout.write(f"shown in the store ({seen['days']} days): no recommendation card")
