"""gunicorn settings: ``gunicorn -c recsite/gunicorn.conf.py recsite.wsgi``."""

import os
import shutil
import tempfile
from typing import Any

# One numeric thread per worker: with as many workers as cores, OpenMP / BLAS thread pools in
# every worker only fight over the same cores (measured: 2.3x slower recommendations).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, os.environ.get("WEB_NUMERIC_THREADS", "1"))

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "100000"))  # recycling restarts a worker (~1 s)
max_requests_jitter = 10000
accesslog = "-"
errorlog = "-"
preload_app = False  # each worker loads the model itself (copy-on-write is defeated by refcounts anyway)


def post_worker_init(worker: Any) -> None:
    """Load the active model before the worker takes requests (no slow first request after a
    start or a max_requests recycle)."""
    from recommender.serving import active_model

    active_model()


def on_starting(server: Any) -> None:
    """Workers write their metrics to files a scrape adds up (``recsite/metrics.py``): a fresh
    directory for each start, unless ``PROMETHEUS_MULTIPROC_DIR`` names one (emptied here)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        shutil.rmtree(given, ignore_errors=True)
        os.makedirs(given)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = server.metrics_dir = tempfile.mkdtemp(prefix="recsite-metrics-")


def child_exit(server: Any, worker: Any) -> None:
    """A recycled or crashed worker's live gauges go (its counts stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if getattr(server, "metrics_dir", None):
        shutil.rmtree(server.metrics_dir, ignore_errors=True)
