"""What ``manage.py recommend`` and ``manage.py audience`` share: the options of a file for a
mailing, and how their errors end the command (not a command: Django skips ``_`` modules)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from django.core.management.base import CommandError, CommandParser


def add_mailing_arguments(parser: CommandParser, *, campaign_default: str) -> None:
    parser.add_argument("--output", "-o", default="-", help="the file to write (default: standard output)")
    parser.add_argument("--campaign", help=f"names the mailing in the links' click tracking "
                                           f"(default: {campaign_default})")
    parser.add_argument("--base-url", default="", help="the store's address, for absolute links "
                                                       "(e.g. https://shop.example.com)")
    parser.add_argument("--no-progress", action="store_true")


@contextlib.contextmanager
def command_errors() -> Iterator[None]:
    """A bad option (ValueError) ends the command with its message; standard output piped into a
    reader that stopped (``| head``) ends it quietly."""
    try:
        yield
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        sys.exit(1)
