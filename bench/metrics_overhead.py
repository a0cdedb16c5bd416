"""What the Prometheus request metrics (``recsite.metrics.MetricsMiddleware``) cost: requests
through Django's handler with the middleware and without it, alternating rounds in one
process: the trivial ``/healthz`` and a signed-in ``/api/recommendations/`` (served from the
feed cache after the first). No goal: a reference.
"""

from __future__ import annotations

import argparse
from typing import Any

from tqdm import tqdm

from bench.common import median, timed

NAME = "metrics_overhead"
MIDDLEWARE = "recsite.metrics.MetricsMiddleware"
PATHS = {"healthz": "/healthz", "recommendations": "/api/recommendations/?k=10"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="per round, path and configuration")
    parser.add_argument("--user", default="ml_1")


def _counted() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("recsite_request_duration_seconds_count",
                                     {"view": "healthz", "method": "GET", "status": "2xx"}) or 0.0


def _client(user: Any, *, metrics: bool) -> Any:
    """A test client whose handler was built with or without the middleware (Django builds the
    chain on the first request and keeps it); checked by whether a request is counted."""
    from django.conf import settings
    from django.test import Client, override_settings

    middleware = [m for m in settings.MIDDLEWARE if metrics or m != MIDDLEWARE]
    client = Client()
    client.force_login(user)
    with override_settings(MIDDLEWARE=middleware, ALLOWED_HOSTS=["testserver"]):
        for path in PATHS.values():
            assert client.get(path).status_code == 200, path
    before = _counted()
    client.get(PATHS["healthz"])
    assert _counted() - before == (1 if metrics else 0), "the middleware is not as configured"
    return client


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    user = get_user_model().objects.get(username=args.user)
    clients = {"with": _client(user, metrics=True), "without": _client(user, metrics=False)}
    times: dict[str, list[float]] = {f"{path}_{how}": [] for path in PATHS for how in clients}
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        for n in tqdm(range(args.rounds), desc=NAME, unit="round"):
            for how in (("with", "without") if n % 2 else ("without", "with")):
                for path, url in PATHS.items():
                    batch: list[float] = []
                    for _ in range(args.requests):
                        timed(batch, clients[how].get, url)
                    times[f"{path}_{how}"].append(median(batch))
    p50_us = {name: round(median(values) * 1e6, 1) for name, values in times.items()}
    return {
        "rounds": args.rounds, "requests": args.requests, "p50_us": p50_us,
        "added_us": {path: round(p50_us[f"{path}_with"] - p50_us[f"{path}_without"], 1) for path in PATHS},
        "ratio": {path: round(p50_us[f"{path}_with"] / p50_us[f"{path}_without"], 3) for path in PATHS},
    }


def summary(result: dict[str, Any]) -> list[str]:
    p50 = result["p50_us"]
    return [f"{path}: {p50[f'{path}_with']} us with the metrics, {p50[f'{path}_without']} us without "
            f"({result['ratio'][path]}x, {result['added_us'][path]:+} us)" for path in PATHS]
