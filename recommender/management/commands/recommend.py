from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from tqdm import tqdm

from catalog.models import id_from_text
from recommender import batch
from recommender.management.commands._mailing import add_mailing_arguments, command_errors


class Command(BaseCommand):
    help = ("Write shoppers' recommendations to a file (CSV or JSON lines) for a mailing or another system: "
            "each active shopper's feed, explained, with tracked links.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=batch.FORMATS,
                            help="csv (a row per recommendation) or jsonl (a line per shopper); "
                                 "default: from the file's extension, else csv")
        parser.add_argument("--k", type=int, default=10, help=f"recommendations per shopper (1-{batch.MAX_K})")
        parser.add_argument("--users", help="comma-separated account ids (default: every active non-staff account)")
        parser.add_argument("--shard", default="1/1", help="I/N: only the I-th of N disjoint parts of the shoppers "
                                                         "(by id), to share a large mailing between N processes")
        add_mailing_arguments(parser, campaign_default="batch-<date>")

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output"]
        fmt = options["format"] or ("jsonl" if output.endswith((".jsonl", ".ndjson")) else "csv")
        campaign = options["campaign"] or f"batch-{timezone.localdate():%Y%m%d}"
        with command_errors():
            batch.check(k=options["k"], fmt=fmt, campaign=campaign, base_url=options["base_url"])
            users = batch.recipients(_ids(options["users"]) if options["users"] is not None else None,
                                     shard=_shard(options["shard"]))
            total = users.count()
            started = time.perf_counter()
            with batch.destination(output) as out, tqdm(total=total, unit="shopper", desc="recommend",
                                                   disable=options["no_progress"]) as bar:
                summary = batch.export(users, out, k=options["k"], fmt=fmt, campaign=campaign,
                                       base_url=options["base_url"], progress=bar.update)
        seconds = time.perf_counter() - started
        where = "standard output" if output == "-" else output
        report = (f"{summary.recommendations:,} recommendations for {summary.accounts:,} shoppers "
                  f"({summary.not_personalized:,} with personalization off: the popular films) written to {where} "
                  f"as {fmt} in {seconds:.1f} s; campaign {campaign}")
        (self.stderr if output == "-" else self.stdout).write(report)


def _ids(text: str) -> list[int]:
    ids = [id_from_text(part.strip()) for part in text.split(",") if part.strip()]
    if not ids or None in ids:
        raise ValueError("users: comma-separated account ids, such as 12,40")
    return ids


def _shard(text: str) -> tuple[int, int]:
    part, _slash, parts = text.partition("/")
    numbers = id_from_text(part.strip()), id_from_text(parts.strip())
    if None in numbers:
        raise ValueError("shard: I/N with 1 <= I <= N, such as 2/4")
    return numbers
