"""Shared fixtures: the real MovieLens-100K data, a real Celery worker on the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def own_connection(fn, *args):
    """``fn(*args)`` on a database connection of its own (a thread's), outside the test's
    transaction, so that what it commits is seen by other connections."""

    def run():
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, then, before it drops the test database, end every other session on it.

    After the browser tests, a connection that a later test opened in the main thread was not
    the one ``connection`` named at teardown, so nothing closed it and dropping the database
    failed ("database is being accessed by other users"). Django keeps connections in
    context-local storage, and Playwright's sync API switches greenlets, each with its own
    context: most likely the cause."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture(scope="session")
def ml_wheel() -> Path:
    """The RecBole 1.2.1 wheel holding MovieLens-100K (downloaded once into var/data)."""
    from catalog.datasets import recbole_wheel

    return recbole_wheel(Path(settings.RECSITE_DATA_DIR))


SNAPSHOT = "ml100k_snapshot"  # a schema of the test database: the tables as first imported
_APPS = ("catalog", "recommender", "auth", "authtoken", "sessions")


def _models() -> list[type]:
    from django.apps import apps

    # not the permissions: they come with the migrations (a flush makes them again), not the data
    return [model for app in _APPS for model in apps.get_app_config(app).get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy and model._meta.label != "auth.Permission"]


def _snapshot_save() -> None:
    """Copy every table into the ``SNAPSHOT`` schema (a test flush does not reach it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SNAPSHOT}")
        for model in _models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"CREATE TABLE {SNAPSHOT}.{table} AS TABLE {table}")


def _snapshot_restore() -> bool:
    """Put the tables back as ``_snapshot_save`` copied them, primary keys and the id sequences'
    next values included: 4 s, where importing and embedding again took 10-15."""
    from django.core.management.color import no_style
    from django.db import transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [SNAPSHOT])
        if cursor.fetchone() is None:
            return False
    tables = [connection.ops.quote_name(model._meta.db_table) for model in _models()]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:  # a copy of a consistent state: skip the foreign key checks (2 s)
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        for table in tables:
            cursor.execute(f"INSERT INTO {table} SELECT * FROM {SNAPSHOT}.{table}")
        for sql in connection.ops.sequence_reset_sql(no_style(), _models()):
            cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")
    return True


def _ensure_movielens(wheel: Path) -> None:
    """MovieLens-100K with every item embedded, committed, unless it is there: imported and
    embedded once per run, then put back from the snapshot. The import empties the tables with
    their id sequences restarted, so every run gives the same primary keys (a trained model
    artifact stays valid after a transactional test flushed the database)."""
    from catalog.datasets import load_movielens_100k
    from catalog.importing import import_dataset
    from recommender.embedding import SOURCES, embed_rows, pending_ids
    from recommender.models import ItemEmbedding

    # the import is one transaction, the items' vectors another that follows it: a MovieLens
    # vector means both are there (2 ms, where counting the ratings took 25 before every test)
    if ItemEmbedding.objects.filter(item__external_id="ml:1").exists() or _snapshot_restore():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(m._meta.db_table for m in _models())} RESTART IDENTITY CASCADE")
    import_dataset(load_movielens_100k(wheel), namespace="ml", demographics_consent=True, progress=False)
    for kind in SOURCES:
        if ids := pending_ids(kind=kind):
            embed_rows(kind=kind, ids=ids)
    _snapshot_save()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache. The feed cache's key follows the newest event's
    id, and ``_ensure_movielens`` restarts the id sequences after a flush, so a feed cached by
    an earlier test could otherwise come back under a recurring key. The same for the search's
    title vocabulary, which a process keeps for ten minutes."""
    from django.apps import apps
    from django.core.cache import cache

    if apps.ready:  # not in the algorithm tests run without Django (``-p no:django``)
        from recommender.spelling import catalogue_speller_clear

        cache.clear()
        catalogue_speller_clear()


@contextmanager
def deleted_before(item, sql_has: str) -> Iterator[list[int]]:
    """``item`` deleted just before the first query whose SQL contains ``sql_has``: staff
    deleting a film while a page that shows it is being computed. Yields the deleted pks."""
    deleted: list[int] = []

    def wrapper(execute, sql, params, many, context):
        if not deleted and sql_has in sql:
            deleted.append(item.pk)  # first: the delete's own queries pass through here too
            type(item).objects.filter(pk=item.pk).delete()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield deleted


@pytest.fixture
def staff_client(db, client):
    """The test client signed in as a superuser, "boss"."""
    from django.contrib.auth.models import User

    User.objects.create_superuser("boss", "boss@example.com", "boss-password-2026")
    client.login(username="boss", password="boss-password-2026")
    return client


@pytest.fixture
def broker_down():
    """The Celery app pointed at a broker that does not exist (a real connection failure)."""
    from recsite.celery import app

    def reset(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    old = app.conf.broker_url
    reset("redis+socket:///nonexistent/recsite-broker.sock")
    yield
    reset(old)


_movielens: dict[str, Path] = {}  # the wheel, once the session's first import is done


@pytest.fixture(scope="session")
def _ml100k_session(django_db_setup, django_db_blocker, ml_wheel):
    """Session-scoped, so set up before the first test's transaction begins."""
    with django_db_blocker.unblock():
        _ensure_movielens(ml_wheel)
    _movielens["wheel"] = ml_wheel


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a MovieLens test's fixtures, outside its transaction: put the data back if a
    transactional test flushed it. (A fixture would run inside the transaction that
    pytest-django's autouse fixture has begun: what it wrote would be rolled back after the
    test, and the next test would import again.)"""
    if "wheel" in _movielens and "_ml100k_session" in getattr(item, "fixturenames", ()):
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            _ensure_movielens(_movielens["wheel"])


@pytest.fixture
def ml100k(_ml100k_session, request):
    """MovieLens-100K, every item embedded, committed in the test database."""
    if "transactional_db" not in request.fixturenames:
        request.getfixturevalue("db")


_trained: dict[str, object] = {}


@pytest.fixture
def trained_model(ml100k, django_db_blocker):
    """An active hybrid model trained on MovieLens-100K, trained once per session: primary keys
    are stable across re-imports, so after a flush the same artifact is registered again."""
    from recommender import serving
    from recommender.models import ModelVersion
    from recommender.training import model_train

    with django_db_blocker.unblock():
        version = ModelVersion.objects.filter(is_active=True).first()
        if version is None and _trained:
            version = ModelVersion.objects.create(is_active=True, **_trained)
        if version is None:
            version = model_train()
            _trained.update(artifact=version.artifact, sha256=version.sha256, params=version.params,
                            n_users=version.n_users, n_items=version.n_items,
                            n_interactions=version.n_interactions, training_seconds=version.training_seconds)
    serving.model_cache_clear()
    yield version
    serving.model_cache_clear()


class Worker:
    """A real ``celery worker`` process consuming the test queue of the real broker."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(  # its own process group, so a kill takes the pool too
            [sys.executable, "-m", "celery", "-A", "recsite", "worker", "--loglevel", "INFO",
             "--concurrency", "1", "--pool", "prefork", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE,
             "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h"],
            cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
        from recsite.celery import app

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log}")
            if app.control.ping(destination=[f"test-{os.getpid()}@{os.uname().nodename}"], timeout=0.5):
                return
        raise RuntimeError(f"worker did not answer pings; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a crash would."""
        os.killpg(self.process.pid, 9)
        self.process.wait()

    def stop(self, sig: int = 15) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _forget_unacknowledged(app, queue: str) -> None:
    """Drop the tasks of ``queue`` that an earlier run's worker took and never acknowledged (a run
    interrupted after killing its worker): ``purge`` does not reach them, and Redis would hand
    them to this run's worker, whose fresh test database has the same primary keys."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        if not hasattr(channel, "unacked_key"):  # not the Redis transport
            return
        client = channel.client
        for tag, raw in client.hgetall(channel.unacked_key).items():
            if json.loads(raw)[2] == queue:  # [message, exchange, routing key]
                client.pipeline().zrem(channel.unacked_index_key, tag).hdel(channel.unacked_key, tag).execute()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, tmp_path_factory):
    from django.db import connection

    from recsite.celery import app

    _forget_unacknowledged(app, settings.CELERY_TASK_DEFAULT_QUEUE)
    app.control.purge()  # a previous run's leftovers on the test queue
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "recsite.settings_test",
        "RECSITE_DB_NAME": connection.settings_dict["NAME"],
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,  # ours, not one named after the test database
        # redeliver a killed worker's unacknowledged task after 10 s instead of an hour (and
        # recsite/settings_test.py has the worker look for such tasks every second)
        "CELERY_VISIBILITY_TIMEOUT": "10",
    }
    worker = Worker(env, tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the MovieLens fixtures uses the database: mark it, so pytest-django sets
    the test database up even when no other collected test asks for it."""
    for item in items:
        if "_ml100k_session" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db)
