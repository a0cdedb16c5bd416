from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.models import Item, id_from_text
from recommender import batch
from recommender.audience import audience, audience_campaign, write_csv
from recommender.management.commands._mailing import add_mailing_arguments, command_errors


class Command(BaseCommand):
    help = ("Write a film's audience to a CSV file for a mailing about it: the shoppers it would stand highest "
            "for in their recommendations, each with the reason their feed would give and a tracked link "
            "(the item admin's 'Shoppers for this film', for any number of shoppers).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("item", help="the film's id")
        parser.add_argument("--limit", type=int, default=1000, help="shoppers to write at most (default 1000)")
        add_mailing_arguments(parser, campaign_default="audience-<item>-<date>")

    def handle(self, *args: Any, **options: Any) -> None:
        pk = id_from_text(options["item"])
        item = Item.objects.filter(pk=pk).first() if pk is not None else None
        if item is None:
            raise CommandError(f"item: no film with id {options['item']!r}")
        if options["limit"] < 1:
            raise CommandError("limit: at least 1")
        output = options["output"]
        campaign = options["campaign"] or audience_campaign(item)
        bars: dict[str, tqdm] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in bars:
                for bar in bars.values():
                    bar.close()
                bars[phase] = tqdm(total=total, unit="shopper", desc=phase, disable=options["no_progress"])
            bars[phase].update(done)

        started = time.perf_counter()
        try:
            with command_errors():
                batch.check(campaign=campaign, base_url=options["base_url"])
                with batch.destination(output) as out:
                    found = audience(item, limit=options["limit"], campaign=campaign, progress=progress)
                    if found.note:
                        raise ValueError(found.note)
                    write_csv(found, out, base_url=options["base_url"])
        finally:
            for bar in bars.values():
                bar.close()
        where = "standard output" if output == "-" else output
        report = (f"{len(found.fans):,} shoppers for {item.display_title} written to {where} in "
                  f"{time.perf_counter() - started:.1f} s (of {found.weighed:,} weighed, {found.left_out:,} left out); "
                  f"campaign {campaign}")
        (self.stderr if output == "-" else self.stdout).write(report)
