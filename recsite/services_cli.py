"""``python -m recsite.services_cli start|stop|status [postgres|redis]``: the embedded
PostgreSQL and Redis (both unless one is named)."""

from __future__ import annotations

import os
import sys

from recsite import embedded

SERVICES = ("postgres", "redis")


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "status"
    chosen = argv[1:] or list(SERVICES)
    if action not in {"start", "stop", "status"} or not set(chosen) <= set(SERVICES):
        print("usage: python -m recsite.services_cli start|stop|status [postgres|redis]", file=sys.stderr)
        return 2
    postgres, redis = "postgres" in chosen, "redis" in chosen
    if action == "start":
        if postgres and not os.environ.get("DATABASE_URL"):
            print("PostgreSQL:", embedded.ensure_postgres(os.environ.get("RECSITE_DB_NAME", "recsite"))["HOST"])
        if redis and not os.environ.get("CELERY_BROKER_URL"):
            print("Redis:", embedded.ensure_redis())
    elif action == "stop":
        if postgres:
            embedded.stop_postgres()
        if redis:
            embedded.stop_redis()
        print("stopped the embedded", " and ".join(name for name in SERVICES if name in chosen))
    else:
        if postgres:
            print("PostgreSQL running:", embedded._pg_running(embedded.pg_data_dir()))
        if redis:
            print("Redis running:", embedded._redis_alive(embedded.redis_socket()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
