"""Prometheus metrics at ``/metrics`` (docs/OPERATIONS.md "Metrics").

Two kinds: what the web processes count as they serve (requests by view, with their duration;
feeds by the algorithm that made them and whether the cache had them), and the recommender's
state read when scraped (the admin index's :func:`recommender.status.system_status`, and the
Celery queues' lengths). Under gunicorn every worker writes its counts to
``PROMETHEUS_MULTIPROC_DIR`` (``recsite/gunicorn.conf.py`` sets it up) and a scrape adds them up.
Readable by staff, or by a scraper sending ``Authorization: Bearer <METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

disable_created_metrics()  # no "_created" series: Prometheus does not need them
REQUESTS = Histogram(
    "recsite_request_duration_seconds", "Requests by view (Django's URL name; '-' for none: static "
    "files, unknown URLs), method and status class, with their duration.", ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
FEEDS = Counter(
    "recsite_feeds", "Personalised feeds served, by the algorithm of their first card (hybrid, ease; "
    "popularity when there is no model, the user opted out or it is the baseline; none when empty) "
    "and whether the feed cache had them.", ["algorithm", "cache"])


def count_feed(algorithm: str, *, cached: bool) -> None:
    FEEDS.labels(algorithm=algorithm, cache="hit" if cached else "miss").inc()


class MetricsMiddleware:
    """Times every request (outermost, so 503s and static files count too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        REQUESTS.labels(view=match.view_name if match else "-", method=_method(request.method),
                        status=f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
        return response


def _method(method: str | None) -> str:
    """The usual methods; anything else one label (a client can send any word)."""
    return method if method in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} else "other"


class StatusCollector(Collector):
    """The recommender's state, read at each scrape."""

    def collect(self) -> Iterator[Metric]:
        from recommender.status import system_status

        status = system_status()
        model = GaugeMetricFamily("recsite_model_version", "Primary key of the model version being served "
                                  "(0: none trained, popularity is served).")
        model.add_metric([], status.model.pk if status.model else 0)
        yield model
        if status.model:
            yield GaugeMetricFamily("recsite_model_age_seconds", "Time since the served model was trained.",
                                    value=time.time() - status.model.created_at.timestamp())
        yield GaugeMetricFamily("recsite_actions_since_model", "Actions (views, ratings, purchases...; not "
                                "impressions) recorded since the served model was trained.",
                                value=status.actions_since_model)
        eligible = GaugeMetricFamily("recsite_embeddings_eligible", "Rows that should have a vector "
                                     "(items, reviews with text, profiles with interests).", labels=["kind"])
        current = GaugeMetricFamily("recsite_embeddings_current", "Of those, rows with a vector from the "
                                    "current encoder (the rest wait for the embedding worker).", labels=["kind"])
        for coverage in status.embeddings:
            eligible.add_metric([coverage.kind], coverage.eligible)
            current.add_metric([coverage.kind], coverage.embedded)
        yield from (eligible, current)
        yield GaugeMetricFamily("recsite_audits_pending", "Fairness audits queued or running.",
                                value=status.audit_pending)
        if status.audit_oldest_pending:
            yield GaugeMetricFamily("recsite_audit_oldest_pending_seconds", "How long the oldest pending audit "
                                    "has waited (over 15 minutes: no worker is taking them).",
                                    value=time.time() - status.audit_oldest_pending.timestamp())
        yield GaugeMetricFamily("recsite_experiment_running", "1 while an A/B experiment runs.",
                                value=int(status.experiment is not None))
        yield GaugeMetricFamily("recsite_reviews_reported", "Shown reviews shoppers reported, waiting for a "
                                "moderator.", value=status.reviews_reported)
        lengths = queue_lengths()
        yield GaugeMetricFamily("recsite_broker_up", "1 when the Celery broker answered this scrape.",
                                value=int(lengths is not None))
        if lengths is not None:
            waiting = GaugeMetricFamily("recsite_queue_messages", "Celery tasks waiting in each queue.",
                                        labels=["queue"])
            for queue, length in lengths.items():
                waiting.add_metric([queue], length)
            yield waiting


def queue_lengths() -> dict[str, int] | None:
    """Tasks waiting in each of the project's Celery queues; ``None`` when the broker does not answer."""
    from kombu.exceptions import OperationalError

    from recsite.celery import app

    queues = sorted({settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_EMBED_QUEUE, settings.CELERY_TRAIN_QUEUE})
    lengths = {}
    connection = app.connection_for_write()
    try:
        with connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            for queue in queues:
                with connection.channel() as channel:  # a failed passive declare closes an AMQP channel
                    try:
                        lengths[queue] = channel.queue_declare(queue, passive=True).message_count
                    except connection.channel_errors:  # never declared, or (Redis) empty
                        lengths[queue] = 0
    except (OperationalError, OSError, *connection.connection_errors):
        return None
    return lengths


def allowed(request: HttpRequest) -> bool:
    """Staff, or the scraper's bearer token (compared in constant time)."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics(request: HttpRequest) -> HttpResponse:
    """The text exposition format, for Prometheus."""
    if not allowed(request):
        return HttpResponse("Metrics are for staff, or a scraper sending Authorization: Bearer <METRICS_TOKEN>.\n",
                            status=403, content_type="text/plain; charset=utf-8")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # every gunicorn worker's counts
        served = CollectorRegistry()
        MultiProcessCollector(served)
    else:
        served = REGISTRY
    state = CollectorRegistry()
    state.register(StatusCollector())
    return HttpResponse(generate_latest(served) + generate_latest(state), content_type=CONTENT_TYPE_LATEST)
