"""Celery tasks of the recommender; they take ids and call services."""

from __future__ import annotations

import logging
import os
import socket

from celery import shared_task
from celery.signals import worker_process_init
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# Lost connections are worth retrying; programming errors are not.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(name="recsite.health", ignore_result=False)
def health(token: str = "") -> dict[str, object]:
    """Round trip check: proves a worker consumed the broker and can reach the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return {"token": token, "pid": os.getpid(), "host": socket.gethostname(), "pgvector": row[0] if row else None}


@shared_task(name="recsite.clear_sessions", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=60, max_retries=3)
def clear_sessions() -> dict[str, int]:
    """Delete expired sessions (Celery beat, daily): Django keeps them otherwise, one for every
    anonymous visitor, with its cart, for good. What ``manage.py clearsessions`` does."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"deleted": deleted}


@shared_task(name="recommender.prune_events", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=60,
             max_retries=3)
def prune_events() -> dict[str, int]:
    """Delete anonymous events and impressions past the retention period, and the admin's
    recommendation exports past theirs (Celery beat, daily)."""
    from recommender.batch import exports_prune
    from recommender.privacy import events_prune

    exports = exports_prune()  # first: the exports' deletion never waits on the events'
    return {"deleted": events_prune()["deleted"], "exports": exports}


@shared_task(
    name="recommender.embed", acks_late=True, reject_on_worker_lost=True,
    autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=300, retry_jitter=True, max_retries=10,
)
def embed(kind: str, ids: list[int]) -> dict[str, int]:
    """Embed a batch of rows; idempotent, so a redelivered or retried batch is harmless."""
    from recommender.embedding import embed_rows

    return embed_rows(kind=kind, ids=ids)


@shared_task(name="recommender.embed_reconcile", acks_late=True)
def embed_reconcile() -> dict[str, int]:
    """The sweep: queue every row whose vector is missing or from another model."""
    from django.conf import settings

    from recommender.embedding import SOURCES, batched, pending_ids

    queued = {}
    for kind in SOURCES:
        ids = pending_ids(kind=kind)
        for chunk in batched(ids, settings.EMBED_BATCH_SIZE):
            embed.delay(kind, chunk)
        queued[kind] = len(ids)
    if any(queued.values()):
        logger.info("embed_reconcile queued %s", queued)
    return queued


@worker_process_init.connect
def _warm_encoder(**kwargs: object) -> None:
    """Load the model when a worker process starts, so the first task is not slow."""
    if os.environ.get("RECSITE_PRELOAD_ENCODER", "1") == "1":
        from recommender.encoder import get_encoder

        try:
            get_encoder().model  # noqa: B018 - loads the model
        except Exception:
            logger.exception("could not preload the embedding model")


@shared_task(name="recommender.train", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=3)
def train() -> dict[str, object]:
    """Periodic training (Celery beat): a new version that serving picks up by itself."""
    from recommender.training import model_train

    version = model_train()
    return {"version": version.pk, "seconds": version.training_seconds}


@shared_task(name="recommender.audit", acks_late=True)
def audit(run_id: int) -> dict[str, object]:
    """Compute a queued audit run (started from the admin)."""
    from recommender.audits import audit_execute
    from recommender.models import AuditRun

    run = audit_execute(AuditRun.objects.get(pk=run_id))
    return {"run": run.pk, "status": run.status}


@shared_task(name="recommender.export")
def export(export_id: int) -> dict[str, object]:
    """Write a queued recommendation export (started from the admin's account list). Acknowledged
    when received: a large export outlasts the broker's visibility timeout (an hour), after which
    a late acknowledgement would have it run a second time beside the first."""
    from recommender.batch import export_run
    from recommender.models import RecommendationExport

    job = export_run(RecommendationExport.objects.get(pk=export_id))
    return {"export": job.pk, "status": job.status, "shoppers": job.done}
