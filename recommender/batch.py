"""Recommendations for many shoppers at once, written to a file for a mailing, a push
notification or another system (``manage.py recommend``).

Each shopper's list is the "Recommended for you" feed the store would compute for them now
(filters, diversity, fairness, promotions), explained, with a link that carries click tracking:
a click from the mail is recorded like a click on a storefront card, with the row ``batch`` and
the campaign as its request id. Nothing is recorded when the file is written (it is not known
which lists will be sent), and the feed cache is neither read nor filled. Experiments are left
out: their click-through compares impressions with clicks, and a mailed list has no impression.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import FileResponse
from django.utils import timezone

from catalog.models import Item, Profile
from recommender import serving
from recommender.models import RecommendationExport
from recommender.selectors import MAILED
from recommender.serving import FeedContext, Recommendation, Row

SOURCE = MAILED  # the tracking row of a mailed list's links
EXPORT_KEEP_DAYS = 7  # the admin's export files are personal data: deleted this many days old
PROGRESS_SECONDS = 2.0  # how often a worker's export records how far it got
FORMATS = ("csv", "jsonl")
MAX_K = 100  # as GET /api/recommendations/
AUDIENCE_EXPORT_MAX = 1_000_000  # shoppers a worker writes for a film's audience
FILE_GONE = "The file is gone (deleted from the export folder)."
CAMPAIGN = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # it goes into every link, and click context keeps 64 characters
CSV_COLUMNS = ["user_id", "username", "personalized", "position", "item_id", "title", "url", "score",
               "algorithm", "signal", "reason", "campaign", "model_version"]


@dataclass
class Summary:
    accounts: int = 0
    recommendations: int = 0
    not_personalized: int = 0  # accounts that turned personalization off: their lists are the popular films


def recipients(ids: list[int] | None = None, *, shard: tuple[int, int] = (1, 1), strict: bool = True) -> QuerySet:
    """The active accounts named by ``ids``, or every active shopper's (staff left out), by id.
    ``shard`` (i, n) keeps the i-th of n disjoint parts (by id modulo n), so n processes or
    machines can share a large mailing. Raises ValueError naming the ids that are no active
    account, unless not ``strict`` (a queued export: accounts closed since are left out)."""
    part, parts = shard
    if not 1 <= part <= parts:
        raise ValueError("shard: I/N with 1 <= I <= N, such as 2/4")
    users = get_user_model().objects.filter(is_active=True).order_by("pk")
    if parts > 1:
        users = users.alias(part=F("pk") % parts).filter(part=part - 1)
    if ids is None:
        return users.filter(is_staff=False)
    users = users.filter(pk__in=ids)
    missing = sorted(set(ids) - set(users.values_list("pk", flat=True))) if strict else []
    if missing:
        raise ValueError(f"no active account with id {', '.join(map(str, missing))}")
    return users


def check(*, k: int = 10, fmt: str = "csv", campaign: str = SOURCE, base_url: str = "") -> None:
    """Raise ValueError, naming the option, unless :func:`export` can take these."""
    if fmt not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k: from 1 to {MAX_K}")
    if not CAMPAIGN.fullmatch(campaign):
        raise ValueError("campaign: 1-64 letters, digits, '.', '_' or '-'")
    if base_url:
        try:
            URLValidator(schemes=["http", "https"])(base_url)
        except ValidationError:
            raise ValueError("base-url: an http(s) address such as https://shop.example.com") from None


def export(users: QuerySet, out: TextIO, *, k: int = 10, fmt: str = "csv", campaign: str = SOURCE,
           base_url: str = "", progress: Callable[[int], object] | None = None) -> Summary:
    """Write each of ``users``' top ``k`` to ``out`` as CSV (one row per recommendation) or JSON
    lines (one object per account, its results as ``GET /api/recommendations/`` gives them).
    Links are ``base_url`` + the film's path with its tracking."""
    check(k=k, fmt=fmt, campaign=campaign)
    opted_out = set(Profile.objects.filter(personalization_opt_out=True).values_list("user_id", flat=True))
    write = _csv_writer(out) if fmt == "csv" else _jsonl_writer(out)
    summary = Summary()
    for user in users.iterator(chunk_size=500):
        context = FeedContext(request_id=campaign)
        recs = serving.feed_fresh(user, k, context)
        serving.track([Row(SOURCE, "", recs)], context)
        version, _model = serving.active_model()
        personalized = user.pk not in opted_out
        write(user, recs, {"personalized": personalized, "campaign": campaign,
                           "model_version": version.pk if version else None}, base_url.rstrip("/"))
        summary.accounts += 1
        summary.recommendations += len(recs)
        summary.not_personalized += not personalized
        if progress:
            progress(1)
    return summary


Writer = Callable[[AbstractBaseUser, list[Recommendation], dict, str], None]


def _csv_writer(out: TextIO) -> Writer:
    rows = csv.writer(out)
    rows.writerow(CSV_COLUMNS)

    def write(user: AbstractBaseUser, recs: Iterable[Recommendation], about: dict, base: str) -> None:
        rows.writerows(
            [user.pk, user.get_username(), str(about["personalized"]).lower(), rec.tracking["pos"], rec.item.pk,
             rec.item.display_title, base + rec.href, round(rec.score, 6), rec.algorithm, rec.source,
             rec.sentence, about["campaign"], about["model_version"]]
            for rec in recs)
    return write


def _jsonl_writer(out: TextIO) -> Writer:
    from recommender.api.serializers import RecommendationSerializer  # the API's shape, in one place

    serializer = RecommendationSerializer()

    def write(user: AbstractBaseUser, recs: Iterable[Recommendation], about: dict, base: str) -> None:
        results = [{**serializer.to_representation(rec), "url": base + rec.href} for rec in recs]
        out.write(json.dumps({"user": user.pk, "username": user.get_username(), **about, "results": results},
                             ensure_ascii=False) + "\n")
    return write


@contextlib.contextmanager
def destination(output: str) -> Iterator[TextIO]:
    """Standard output ("-"), or a file that appears whole or not at all (:func:`atomic_file`)."""
    if output == "-":
        yield sys.stdout
        sys.stdout.flush()
    else:
        with atomic_file(Path(output)) as out:
            yield out


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A text file that appears at ``path`` whole or not at all: written beside it and moved
    there once complete (an error or Ctrl-C leaves what was there as it was)."""
    if not path.parent.is_dir():
        raise ValueError(f"output: no directory {path.parent}")
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            yield out
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise


# ------------------------------------------------------------------ the admin's exports (a worker writes them)
def export_path(export: RecommendationExport) -> Path:
    return settings.RECSYS_EXPORT_DIR / export.file_name


def export_download(export: RecommendationExport) -> FileResponse:
    """A done export's CSV as a download; FileNotFoundError when its file was deleted."""
    return FileResponse(export_path(export).open("rb"), as_attachment=True, filename=export.file_name,
                        content_type="text/csv; charset=utf-8")


def export_queue(ids: list[int], *, by: AbstractBaseUser | None, base_url: str, k: int = 10
                 ) -> RecommendationExport:
    """A pending export of the accounts ``ids``, its links' campaign ``export-<id>``; the caller
    queues ``recommender.export``."""
    job = RecommendationExport.objects.create(created_by=by, user_ids=sorted(ids), total=len(ids), k=k,
                                              base_url=base_url)
    job.campaign = f"export-{job.pk}"
    job.save(update_fields=["campaign"])
    return job


def audience_queue(item: Item, limit: int, *, by: AbstractBaseUser | None, base_url: str) -> RecommendationExport:
    """A pending export of ``item``'s audience, at most ``limit`` shoppers (the admin's "Have a
    worker write it"), its links' campaign ``audience-<item>-<date>``; the caller queues it."""
    from recommender.audience import audience_campaign

    return RecommendationExport.objects.create(created_by=by, item=item, total=limit, base_url=base_url,
                                               campaign=audience_campaign(item))


def _write_audience(job: RecommendationExport, out: TextIO, tick: Callable[[int], None]) -> list[int]:
    """``job.item``'s audience written to ``out`` (:func:`recommender.audience.write_csv`): the
    listed shoppers' ids; ValueError with the reason when it has none."""
    from recommender.audience import audience, write_csv

    found = audience(job.item, limit=job.total, campaign=job.campaign,
                     progress=lambda phase, n, _total: tick(n if phase == "explain" else 0))
    if found.note:
        raise ValueError(found.note)
    write_csv(found, out, base_url=job.base_url)
    return [fan.user.pk for fan in found]


def export_run(job: RecommendationExport) -> RecommendationExport:
    """Write ``job``'s file (the accounts still active), recording how far it got every few
    seconds, then its counts; or its error, re-raised for the worker's log. An export that is
    not pending (a second delivery of its task) is left as it is."""
    if not RecommendationExport.objects.filter(pk=job.pk, status=RecommendationExport.Status.PENDING).update(
            status=RecommendationExport.Status.RUNNING, progress_at=timezone.now()):
        return job
    job.status = RecommendationExport.Status.RUNNING
    done, last = 0, time.monotonic()

    def tick(n: int) -> None:
        nonlocal done, last
        done += n
        if time.monotonic() - last >= PROGRESS_SECONDS:
            RecommendationExport.objects.filter(pk=job.pk).update(done=done, progress_at=timezone.now())
            last = time.monotonic()

    def record(**fields: object) -> bool:  # False: the export was deleted meanwhile (by staff, by an erasure)
        for name, value in fields.items():
            setattr(job, name, value)
        return bool(RecommendationExport.objects.filter(pk=job.pk).update(**fields))

    try:
        settings.RECSYS_EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        name = (f"{job.campaign}-{job.pk}.csv" if job.item_id else
                f"recommendations-{job.pk}-{job.created_at:%Y-%m-%d}.csv")
        with atomic_file(settings.RECSYS_EXPORT_DIR / name) as out:
            if job.item_id:
                listed = _write_audience(job, out, tick)
                counts = {"user_ids": listed, "done": len(listed), "recommendations": len(listed)}
            else:
                summary = export(recipients(job.user_ids, strict=False), out, k=job.k, campaign=job.campaign,
                                 base_url=job.base_url, progress=tick)
                counts = {"done": summary.accounts, "recommendations": summary.recommendations,
                          "not_personalized": summary.not_personalized}
    except Exception as exc:
        record(status=RecommendationExport.Status.FAILED, error=str(exc), finished_at=timezone.now())
        raise
    if not record(file_name=name, status=RecommendationExport.Status.DONE, finished_at=timezone.now(), **counts):
        export_path(job).unlink()  # its row went while it was written: so does the file (it may name an erased shopper)
    elif job.item_id and get_user_model().objects.filter(pk__in=job.user_ids).count() < len(job.user_ids):
        # an audience's shoppers are known, and found by an erasure, only once written: one erased meanwhile
        export_path(job).unlink()
        record(status=RecommendationExport.Status.FAILED, file_name="", user_ids=[],
               error="A listed shopper's account was deleted while the file was written: start it again.")
    return job


def export_restart(job: RecommendationExport) -> bool:
    """Make a failed or stalled export pending again, from the start, for
    :func:`export_send`; False when it is neither (any more)."""
    return bool(RecommendationExport.objects.restartable().filter(pk=job.pk).update(
        status=RecommendationExport.Status.PENDING, done=0, progress_at=None, error="", finished_at=None))


def export_send(job: RecommendationExport) -> bool:
    """Queue the pending ``job`` for a worker. With the broker down, mark it failed, saying why
    (the exports list starts it again), and return False."""
    from kombu.exceptions import OperationalError

    from recommender.tasks import export

    try:
        export.delay(job.pk)
    except OperationalError:
        RecommendationExport.objects.filter(pk=job.pk).update(
            status=RecommendationExport.Status.FAILED, finished_at=timezone.now(),
            error="Not started: the task queue was unreachable.")
        return False
    return True


def export_file_delete(job: RecommendationExport) -> None:
    """Remove a deleted export's file (post_delete, after the commit: a rolled-back delete keeps it)."""
    if job.file_name:
        path = export_path(job)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


def exports_prune(days: int = EXPORT_KEEP_DAYS) -> int:
    """Delete the exports older than ``days`` with their files (daily, with the events' sweep)."""
    return RecommendationExport.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).delete()[0]


def exports_forget(user: AbstractBaseUser) -> int:
    """Delete the exports that name ``user``, with their files (the account is being erased)."""
    return RecommendationExport.objects.filter(user_ids__contains=[user.pk]).delete()[0]
