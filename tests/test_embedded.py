"""The embedded PostgreSQL: start, reuse, concurrent starts, crash recovery, DATABASE_URL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SNIPPET = (
    "import psycopg, json; from recsite import embedded; s = embedded.ensure_postgres('probe'); "
    "pid = open(str(embedded.pg_data_dir() / 'postmaster.pid')).readline().strip(); "
    "v = psycopg.connect(host=s['HOST'], user='postgres', dbname=s['NAME']).execute("
    "\"select default_version from pg_available_extensions where name='vector'\").fetchone()[0]; "
    "print(json.dumps({'pid': pid, 'vector': v}))"
)


def _run(var_dir: Path, code: str = SNIPPET, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RECSITE_VAR_DIR": str(var_dir), **env},
    )


def _result(proc: subprocess.Popen) -> dict:
    import json

    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def var_dir():
    # short path: PostgreSQL's socket lives in the data directory (107-byte limit)
    path = Path(f"/tmp/rs-embed-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    yield path
    env = {**os.environ, "RECSITE_VAR_DIR": str(path)}
    subprocess.run([sys.executable, "-m", "recsite.services_cli", "stop"], cwd=ROOT, env=env, check=False,
                   capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_start_reuse_concurrency_and_stale_pid(var_dir):
    # two processes starting at once on an empty directory: one initdb, one server
    first, second = _run(var_dir), _run(var_dir)
    a, b = _result(first), _result(second)
    assert a["pid"] == b["pid"]
    assert a["vector"].startswith("0.8")
    # a later start reuses the running server
    assert _result(_run(var_dir))["pid"] == a["pid"]
    # data persists: a table written now is there after a crash and restart
    subprocess.run(
        [sys.executable, "-c", "import psycopg; from recsite import embedded; s = embedded.ensure_postgres('probe');"
         "c = psycopg.connect(host=s['HOST'], user='postgres', dbname='probe', autocommit=True);"
         "c.execute('create table kept (x int)'); c.execute('insert into kept values (42)')"],
        cwd=ROOT, env={**os.environ, "RECSITE_VAR_DIR": str(var_dir)}, check=True,
    )
    # crash: SIGKILL the postmaster; its pid file stays behind, stale
    os.kill(int(a["pid"]), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{a['pid']}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (var_dir / "pgdata" / "postmaster.pid").exists()
    time.sleep(1)  # let the killed server's backends exit
    recovered = _result(_run(var_dir))
    assert recovered["pid"] != a["pid"]
    check = subprocess.run(
        [sys.executable, "-c", "import psycopg; from recsite import embedded; s = embedded.ensure_postgres('probe');"
         "print(psycopg.connect(host=s['HOST'], user='postgres', dbname='probe').execute("
         "'select x from kept').fetchone()[0])"],
        cwd=ROOT, env={**os.environ, "RECSITE_VAR_DIR": str(var_dir)}, capture_output=True, text=True, check=True,
    )
    assert check.stdout.strip() == "42"


def test_database_url_overrides_the_embedded_server(tmp_path):
    """With DATABASE_URL set the project uses that server and starts none of its own."""
    code = (
        "import django; django.setup(); from django.db import connection; "
        "c = connection.cursor(); c.execute('show server_version'); print(c.fetchone()[0])"
    )
    url = "postgresql://postgres@127.0.0.1:5432/postgres"  # the machine's own PostgreSQL 15
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "RECSITE_VAR_DIR": str(tmp_path), "DATABASE_URL": url,
             "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15", "DJANGO_SETTINGS_MODULE": "recsite.settings"},
    )
    if proc.returncode != 0 and "Connection refused" in proc.stderr:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432 on this machine")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("15")
    assert not (tmp_path / "pgdata").exists()
    assert not (tmp_path / "redis.sock").exists()


def test_stopping_redis_returns_once_it_has_exited(var_dir):
    """``services_cli stop redis`` means stopped: Redis flushes its append-only file after
    SIGTERM, and a caller probing the broker right away must not still reach it."""
    code = ("from recsite import embedded; embedded.ensure_redis(); "
            "pid = int((embedded.VAR_DIR / 'redis.pid').read_text()); "
            "alive = embedded._pid_is(pid, 'redis'); embedded.stop_redis(); "
            "print(alive, embedded._pid_is(pid, 'redis'), embedded._redis_alive(embedded.redis_socket()))")
    proc = _run(var_dir, code)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split()[-3:] == ["True", "False", "False"]
