"""Operations: probes, production settings, and faults on real services: the database
restarted under load, the broker stopped while writes go on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ARTIFACTS.mkdir(exist_ok=True)


def test_probes(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok" and ready.json()["checks"]["broker"] == "ok"
    assert ready.json()["checks"]["cache"] == "ok"


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


def _request(url: str, data: dict | None = None, token: str = "") -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=None if data is None else json.dumps(data).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()

SERVICES = [sys.executable, "-m", "recsite.services_cli"]


@contextmanager
def _isolated_project(name: str) -> Iterator[dict[str, str]]:
    """Environment of a project with its own embedded PostgreSQL and Redis (under /tmp), so
    the test can stop and start them without disturbing the rest of the suite; migrated."""
    var = Path(f"/tmp/rs-{name}-{os.getpid()}")
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir()
    (ROOT / "var" / "models").mkdir(parents=True, exist_ok=True)
    (var / "models").symlink_to(ROOT / "var" / "models")  # the exported encoder, not exported again
    env = {**os.environ, "RECSITE_VAR_DIR": str(var), "RECSITE_DB_NAME": name,
           "DJANGO_SETTINGS_MODULE": "recsite.settings", "CELERY_QUEUE": name,
           "API_THROTTLE_ANON": "100000/min", "API_THROTTLE_USER": "100000/min"}  # load, not abuse
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(key, None)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True,
                       timeout=300)
        yield env
    finally:
        subprocess.run([*SERVICES, "stop"], cwd=ROOT, env=env, timeout=60, capture_output=True)
        shutil.rmtree(var, ignore_errors=True)


@contextmanager
def _gunicorn(env: dict[str, str]) -> Iterator[str]:
    """The production server (2 workers) on a free port; yields its base URL once it answers."""
    port = 8700 + os.getpid() % 200
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "recsite/gunicorn.conf.py", "recsite.wsgi"], cwd=ROOT,
        env={**env, "WEB_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": "2", "WEB_THREADS": "4"},
        stdout=subprocess.DEVNULL, stderr=(ARTIFACTS / f"gunicorn-{env['RECSITE_DB_NAME']}.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _request(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _manage(env: dict[str, str], code: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # the shell may print a banner first


@pytest.mark.slow
def test_database_restart_under_load_gives_503_and_recovers():
    """gunicorn on its own PostgreSQL, 8 clients requesting pages and the API all the time:
    stop the database, every answer is a 200 or a clean 503 with Retry-After (HTML for pages,
    the JSON error for the API), never a 500 or a dropped connection; start it again and
    service resumes within 5 s."""
    with _isolated_project("dbfault") as env, _gunicorn(env) as base:
        urls = [f"{base}/browse/", f"{base}/api/items/", f"{base}/api/recommendations/?k=5"]
        for url in urls:
            assert _request(url)[0] == 200, url
        outcomes: Counter[str] = Counter()
        stop_at = [float("inf")]

        def client(n: int) -> None:
            while time.monotonic() < stop_at[0]:
                url = urls[n % len(urls)]
                try:
                    status, headers, body = _request(url)
                except OSError as exc:  # a refused or reset connection would be a failure
                    outcomes[f"error {type(exc).__name__}"] += 1
                    continue
                if status == 503:
                    assert headers.get("Retry-After") == "5"
                    assert (b'"code": "unavailable"' if "/api/" in url else b"right back") in body
                outcomes[str(status)] += 1
                n += 1

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client, n) for n in range(8)]
            try:
                time.sleep(2)
                subprocess.run([*SERVICES, "stop", "postgres"], cwd=ROOT, env=env, check=True, timeout=60)
                time.sleep(2)
                assert _request(f"{base}/healthz")[0] == 200  # alive, though not ready
                assert _request(f"{base}/readyz")[0] == 503
                subprocess.run([*SERVICES, "start", "postgres"], cwd=ROOT, env=env, check=True, timeout=60)
                back = time.monotonic()
                while _request(f"{base}/api/items/")[0] != 200 or _request(f"{base}/browse/")[0] != 200:
                    assert time.monotonic() - back < 5, "did not recover within 5 s of the database's return"
                    time.sleep(0.2)
                time.sleep(1)
            finally:
                stop_at[0] = time.monotonic()
            for future in futures:
                future.result()
        assert outcomes["503"] > 0 and outcomes["200"] > 0, outcomes
        assert set(outcomes) <= {"200", "503"}, outcomes


@pytest.mark.slow
def test_broker_outage_loses_no_write_and_no_embedding():
    """A worker and beat running; the broker (Redis) stops; items and reviews keep being
    written through the API (quickly, 201); the broker starts again and the reconcile sweep
    embeds every one of them: nothing lost."""
    from recommender.encoder import get_encoder

    get_encoder().model  # noqa: B018 - export the encoder once, before the worker shares it
    with _isolated_project("brokerfault") as env:
        token = _manage(env, (
            "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
            "u = User.objects.create_superuser('ops', 'ops@example.com', 'ops-pass-2026'); "
            "print(Token.objects.create(user=u).key)"
        ))
        worker_env = {**env, "RECSYS_RECONCILE_EVERY": "2"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "recsite", "worker", "-B", "--concurrency", "1",
             "--loglevel", "INFO", "-Q", "brokerfault", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=worker_env, stdout=(ARTIFACTS / "broker-fault-worker.log").open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            with _gunicorn(env) as base:
                status, _, body = _request(f"{base}/api/items/", {"title": "Before the outage"}, token)
                assert status == 201, body
                subprocess.run([*SERVICES, "stop", "redis"], cwd=ROOT, env=env, check=True, timeout=60)
                status, _, body = _request(f"{base}/readyz")
                assert status == 503 and json.loads(body)["checks"]["cache"].startswith("unavailable"), body
                # the cache lives in the same Redis: pages run without it (slower), not 500
                assert _request(f"{base}/")[0] == 200 and _request(f"{base}/api/items/")[0] == 200
                created = []
                for n in range(5):
                    started = time.monotonic()
                    status, _, body = _request(f"{base}/api/items/", {
                        "title": f"Written while the broker was down {n}", "genres": ["Drama"],
                        "description": "A lighthouse keeper and a storm.",
                    }, token)
                    assert status == 201, body
                    assert time.monotonic() - started < 5, "a write waited on the broker"
                    created.append(json.loads(body)["id"])
                status, _, body = _request(f"{base}/api/reviews/", {
                    "item": created[0], "rating": 4.5, "text": "Moody and beautiful, written during the outage.",
                }, token)
                assert status == 201, body
                subprocess.run([*SERVICES, "start", "redis"], cwd=ROOT, env=env, check=True, timeout=60)
                count = (
                    "from recommender.models import ItemEmbedding, ReviewEmbedding; from catalog.models import Item, "
                    "Review; print(Item.objects.count() - ItemEmbedding.objects.count(), "
                    "Review.objects.count() - ReviewEmbedding.objects.count(), Item.objects.count())"
                )
                deadline = time.monotonic() + 120
                while (missing := _manage(env, count).split())[:2] != ["0", "0"]:
                    assert worker.poll() is None, "the worker died"
                    assert time.monotonic() < deadline, f"still unembedded (items, reviews, total): {missing}"
                    time.sleep(2)
                assert missing[2] == "6"
                # beat keeps its schedule file under the project's var/, not in the folder it started in
                assert list(Path(env["RECSITE_VAR_DIR"]).glob("celerybeat-schedule*"))
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=60)


def test_embedding_and_training_can_have_queues_of_their_own():
    """CELERY_EMBED_QUEUE / CELERY_TRAIN_QUEUE route the tasks, so one worker pool embeds and
    another trains (docs/OPERATIONS.md); unset, everything goes to the default queue."""
    code = ("from recsite.celery import app; import recommender.tasks; "
            "print(*(app.amqp.router.route({}, name)['queue'].name for name in "
            "('recommender.embed', 'recommender.embed_reconcile', 'recommender.train', 'recommender.audit', "
            "'recommender.export')))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "recsite.settings", "CELERY_QUEUE": "web"}
    separate = {"CELERY_EMBED_QUEUE": "embed", "CELERY_TRAIN_QUEUE": "train"}
    for extra, expected in (({}, "web web web web web"), (separate, "embed embed train train train")):
        result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                                env={**env, **extra}, capture_output=True, text=True, timeout=120)
        assert result.stdout.split() == expected.split(), result.stderr


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _total(samples: dict, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples with these labels (among others)."""
    return sum(value for (sample, have), value in samples.items()
               if sample == name and set(labels.items()) <= have)


def _requests(samples: dict, view: str, status: str = "2xx") -> float:
    return _total(samples, "recsite_request_duration_seconds_count", view=view, method="GET", status=status)


@pytest.mark.django_db
def test_metrics_are_for_staff_or_the_scrapers_token(client, settings, django_user_model):
    settings.METRICS_TOKEN = "scrape-token-2026"
    assert client.get("/metrics").status_code == 403
    for wrong in ("Bearer scrape-token", "Bearer ", "Token scrape-token-2026", "scrape-token-2026"):
        assert client.get("/metrics", headers={"Authorization": wrong}).status_code == 403, wrong
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-token-2026"}).status_code == 200
    settings.METRICS_TOKEN = ""  # no token set: no bearer is accepted, however it is spelt
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403
    client.force_login(django_user_model.objects.create_user("shopper-m"))
    assert client.get("/metrics").status_code == 403
    client.force_login(django_user_model.objects.create_user("staff-m", is_staff=True))
    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=")


def test_metrics_count_requests_and_feeds_and_read_the_recommenders_state(ml100k, client, django_user_model,
                                                                          settings):
    from catalog.models import Item
    from recommender.status import system_status

    client.force_login(django_user_model.objects.create_user("staff-m", is_staff=True))
    before = _samples(client.get("/metrics").content.decode())
    client.get("/healthz"), client.get("/healthz"), client.get("/no-such-page/")
    client.get("/api/recommendations/"), client.get("/api/recommendations/")  # the second from the cache
    after = _samples(client.get("/metrics").content.decode())
    assert _requests(after, "healthz") - _requests(before, "healthz") == 2
    assert _requests(after, "-", "4xx") - _requests(before, "-", "4xx") == 1  # no view: one label for any URL
    assert _requests(after, "api-recommendations") - _requests(before, "api-recommendations") == 2
    for cache in ("hit", "miss"):
        assert _total(after, "recsite_feeds_total", cache=cache) - _total(before, "recsite_feeds_total",
                                                                           cache=cache) == 1
    status = system_status()
    assert _total(after, "recsite_model_version") == (status.model.pk if status.model else 0)
    assert _total(after, "recsite_embeddings_eligible", kind="item") == Item.objects.active().count() > 1000
    for coverage in status.embeddings:
        assert _total(after, "recsite_embeddings_current", kind=coverage.kind) == coverage.embedded
    assert _total(after, "recsite_broker_up") == 1
    assert _total(after, "recsite_reviews_reported") == status.reviews_reported
    assert ("recsite_queue_messages", frozenset({"queue": settings.CELERY_TASK_DEFAULT_QUEUE}.items())) in after


@pytest.mark.slow
def test_metrics_add_up_every_gunicorn_workers_counts(django_db_setup, tmp_path):
    """Two workers each count what they serve in their own file; a scrape, whichever worker
    answers it, reports the sum."""
    from django.db import connection

    directory = tmp_path / "metrics"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "recsite.settings", "METRICS_TOKEN": "scrape-token-2026",
           "RECSITE_DB_NAME": connection.settings_dict["NAME"], "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def served(base: str) -> float:
        scrape = urllib.request.Request(f"{base}/metrics", headers={"Authorization": "Bearer scrape-token-2026"})
        with urllib.request.urlopen(scrape, timeout=15) as response:
            return _requests(_samples(response.read().decode()), "healthz")

    with _gunicorn(env) as base:
        before = served(base)  # the start-up wait asked /healthz too
        with ThreadPoolExecutor(8) as pool:
            statuses = Counter(pool.map(lambda _: _request(f"{base}/healthz")[0], range(200)))
        assert statuses == {200: 200}
        assert len(list(directory.glob("histogram_*.db"))) == 2  # both workers served some
        assert {served(base) - before for _ in range(4)} == {200}  # the same sum from either worker
