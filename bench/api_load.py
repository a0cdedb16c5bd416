"""API load: ``/api/recommendations/`` under gunicorn (2 workers) driven by wrk over loopback,
next to a trivial DRF endpoint (``/api/categories/``) measured in the same run: p50/p99 and
requests per second. Goals: p99 <= 30 ms and >= 50% of the trivial endpoint's throughput.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import ROOT

NAME = "api_load"
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--user", default="ml_1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _latency(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return round(float(match[1]) * UNITS[match[2]], 2) if match else float("nan")


def _wrk(url: str, token: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Token {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": float(rps[1]) if rps else 0.0, "p50_ms": _latency(out, "50%"), "p99_ms": _latency(out, "99%"),
            "non_2xx": int(errors[1]) if errors else 0}


@contextmanager
def gunicorn(port: int, workers: int, token: str) -> Iterator[str]:
    """gunicorn serving the dev database on ``port`` (throttling off), warmed: every worker has
    loaded the model."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs Debian's wrk)")
    env = {**os.environ, "WEB_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": str(workers),
           "API_THROTTLE_USER": "100000000/min", "API_THROTTLE_ANON": "100000000/min",
           "DJANGO_SETTINGS_MODULE": "recsite.settings"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "recsite/gunicorn.conf.py", "recsite.wsgi",
                               "--access-logfile", "/dev/null"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    request = urllib.request.Request(f"{base}/api/recommendations/?k=10", headers={"Authorization": f"Token {token}"})
    try:
        deadline = time.monotonic() + 90
        warmed = 0
        while warmed < 4 * workers:
            try:
                urllib.request.urlopen(request, timeout=30).read()
                warmed += 1
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=args.user))
    results = {}
    with gunicorn(_free_port(), args.workers, token.key) as base:
        for name, path in (("trivial", "/api/categories/"), ("recommendations", "/api/recommendations/?k=10"),
                           ("trivial_again", "/api/categories/")):
            print(f"wrk {name} {args.seconds}s ...", flush=True)
            results[name] = _wrk(base + path, token.key, args.seconds, args.connections)
    trivial_rps = (results["trivial"]["rps"] + results["trivial_again"]["rps"]) / 2
    return {"workers": args.workers, "connections": args.connections, "seconds": args.seconds, "results": results,
            "throughput_ratio": round(results["recommendations"]["rps"] / trivial_rps, 3) if trivial_rps else 0.0}


def summary(result: dict[str, Any]) -> list[str]:
    rec = result["results"]["recommendations"]
    lines = [f"{name}: {r['rps']:.0f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, non-2xx {r['non_2xx']}"
             for name, r in result["results"].items()]
    lines.append(f"recommendations / trivial throughput {result['throughput_ratio']:.2f} (goal >= 0.5); "
                 f"p99 {rec['p99_ms']} ms (goal <= 30)")
    return lines
