"""Liveness and readiness probes, and graceful degradation when the database is down."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: the process answers (no dependency is checked)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: the database, the broker and a trained model version. 503 when the database or the
    broker is missing; the cache is reported, not required."""
    checks: dict[str, object] = {}
    ok = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"], ok = f"error: {exc.__class__.__name__}", False
    try:
        from recsite.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"], ok = f"error: {exc.__class__.__name__}", False
    # the cache is not required: without it the site is slower and throttles count nothing
    available = getattr(cache, "available", lambda: True)()
    checks["cache"] = "ok" if available else "unavailable (running without it)"
    if checks["database"] == "ok":
        from recommender.models import ModelVersion

        version = ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True).first()
        checks["model_version"] = version  # None: serving falls back to popularity, still ready
    response = JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Answer 503 with Retry-After instead of a traceback while the database is unreachable;
    Django reconnects on the next request, so service resumes when the database is back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable: %s", exception)
        connection.close_if_unusable_or_obsolete()
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"error": {"status": 503, "code": "unavailable", "message": "The database is unavailable; retry soon.",
                           "fields": {}}}, status=503)
        else:
            response = HttpResponse(
                "<!doctype html><title>Back soon</title><h1>We'll be right back</h1>"
                "<p>The store is briefly unavailable. Please try again in a few seconds.</p>", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
