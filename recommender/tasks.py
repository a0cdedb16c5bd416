"""Celery tasks of the recommender; they take ids and call services."""

from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(name="recsite.health")
def health(token: str = "") -> dict[str, object]:
    """Round trip check: proves a worker consumed the broker and can reach the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return {"token": token, "pid": os.getpid(), "host": socket.gethostname(), "pgvector": row[0] if row else None}
