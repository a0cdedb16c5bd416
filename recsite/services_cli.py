"""``python -m recsite.services_cli start|stop|status``: the embedded PostgreSQL and Redis."""

from __future__ import annotations

import os
import sys

from recsite import embedded


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "status"
    if action == "start":
        if not os.environ.get("DATABASE_URL"):
            print("PostgreSQL:", embedded.ensure_postgres(os.environ.get("RECSITE_DB_NAME", "recsite"))["HOST"])
        if not os.environ.get("CELERY_BROKER_URL"):
            print("Redis:", embedded.ensure_redis())
    elif action == "stop":
        embedded.stop_postgres()
        embedded.stop_redis()
        print("stopped the embedded PostgreSQL and Redis")
    elif action == "status":
        print("PostgreSQL running:", embedded._pg_running(embedded.pg_data_dir()))
        print("Redis running:", embedded._redis_alive(embedded.redis_socket()))
    else:
        print("usage: python -m recsite.services_cli start|stop|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
