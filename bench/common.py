"""Helpers shared by the benchmarks: Django setup, statistics, machine facts, results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()


def var_dir() -> Path:
    return Path(os.environ.get("RECSITE_VAR_DIR", ROOT / "var"))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def median(values: Iterable[float]) -> float:
    return float(statistics.median(values))


def timed(times: list[float], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, its wall time appended to ``times``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    times.append(time.perf_counter() - t0)
    return out


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = 0.0
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "mem_gib": round(mem_gib, 1),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    folder = var_dir() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    payload = {"benchmark": name, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **result}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def pg_params(dbname: str | None = None) -> dict[str, Any]:
    """psycopg connection keywords for Django's default database (or ``dbname`` on its server)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    params: dict[str, Any] = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "dbname": dbname or db["NAME"],
    }
    return {k: v for k, v in params.items() if v is not None}
