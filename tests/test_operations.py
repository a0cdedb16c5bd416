"""Operations: probes, production settings, and graceful degradation with a real database outage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_probes(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok" and ready.json()["checks"]["broker"] == "ok"


def test_deploy_checks_are_clean():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set for e2e
    env = {**env, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 60 + "-prod-secret-key-0123456789",
           "DJANGO_ALLOWED_HOSTS": "shop.example.com", "DJANGO_SETTINGS_MODULE": "recsite.settings"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    missing = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, "DJANGO_SECRET_KEY": ""}, timeout=120)
    assert missing.returncode != 0 and "DJANGO_SECRET_KEY" in missing.stderr


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.slow
def test_database_outage_gives_503_and_recovers(tmp_path_factory):
    """A server on its own embedded PostgreSQL: stop the database, requests get 503 with
    Retry-After (HTML for pages, the JSON error for the API); restart it, service resumes."""
    var = Path(f"/tmp/rs-fault-{os.getpid()}")
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir()
    env = {**os.environ, "RECSITE_VAR_DIR": str(var), "RECSITE_DB_NAME": "fault",
           "DJANGO_SETTINGS_MODULE": "recsite.settings", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14"}
    env.pop("DATABASE_URL", None)
    services = [sys.executable, "-m", "recsite.services_cli"]
    server = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True,
                       timeout=300)
        port = 8700 + os.getpid() % 200
        server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/browse/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        assert _get(f"{base}/browse/")[0] == 200
        subprocess.run([*services, "stop"], cwd=ROOT, env=env, check=True, timeout=60)
        status, headers, body = _get(f"{base}/browse/")
        assert status == 503 and headers.get("Retry-After") == "5" and b"right back" in body
        status, headers, body = _get(f"{base}/api/items/")
        assert status == 503 and b'"code": "unavailable"' in body
        assert _get(f"{base}/healthz")[0] == 200  # alive, though not ready
        assert _get(f"{base}/readyz")[0] == 503
        subprocess.run([*services, "start"], cwd=ROOT, env=env, check=True, timeout=60)
        back = time.monotonic()
        while _get(f"{base}/browse/")[0] != 200:
            assert time.monotonic() - back < 5, "did not recover within 5 s of the database's return"
            time.sleep(0.2)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        subprocess.run([*services, "stop"], cwd=ROOT, env=env, timeout=60, capture_output=True)
        shutil.rmtree(var, ignore_errors=True)
