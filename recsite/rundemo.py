"""``make demo``: prepare the database, then run a Celery worker and the web server together.

Ctrl-C stops everything this started (the embedded PostgreSQL and Redis keep running so the
next start is instant; ``make stop`` stops them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

ADDRESS = os.environ.get("DEMO_ADDRESS", "127.0.0.1:8000")


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], check=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    _manage("migrate", "--noinput", "-v", "0")
    _manage("import_movielens")
    _manage("seed_demo")
    _manage("embed")  # vectors for whatever has none yet (first run: all of MovieLens, about a minute)
    _manage("train", "--if-missing")
    _manage("collectstatic", "--noinput", "-v", "0")
    children = [
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "recsite", "worker", "-B",
                          "--loglevel", "INFO", "--concurrency", "1"]),
        subprocess.Popen([sys.executable, "manage.py", "runserver", ADDRESS, "--noreload"]),
    ]
    import django

    django.setup()
    from catalog.demo import DEMO_SHOPPER, DEMO_STAFF

    print(
        f"\n  recsite demo store: http://{ADDRESS}/\n"
        f"  shopper login: {DEMO_SHOPPER[0]} / {DEMO_SHOPPER[1]}\n"
        f"  staff login:   {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  -> http://{ADDRESS}/admin/\n"
        "  Ctrl-C stops the web server and the worker.\n",
        flush=True,
    )
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
