"""``make demo``: prepare the database, then run a Celery worker and the web server together.

Everything runs with the production settings (DEBUG off, so shoppers see the store's own 404
and 500 pages) over plain http on localhost: ``DJANGO_INSECURE_HTTP=1`` turns off only the
HTTPS-only settings, and the secret key is generated once into ``var/demo-secret-key``.
``DJANGO_DEBUG=1 make demo`` brings Django's debug pages back; any ``DJANGO_*`` variable
already set wins over the demo's values.

Ctrl-C stops everything this started (the embedded PostgreSQL and Redis keep running so the
next start is instant; ``make stop`` stops them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from recsite import embedded

ADDRESS = os.environ.get("DEMO_ADDRESS", "127.0.0.1:8000")
SECRET_KEY_FILE = "demo-secret-key"


def demo_secret_key(var_dir: Path) -> str:
    """The demo's secret key, kept in ``var_dir`` (mode 0600) and generated on first use."""
    path = var_dir / SECRET_KEY_FILE
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        var_dir.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(get_random_secret_key() + "\n")
        try:
            os.link(draft, path)  # complete or absent: two first starts at once keep one key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def demo_environment(base: Mapping[str, str], address: str = ADDRESS,
                     var_dir: Path = embedded.VAR_DIR) -> dict[str, str]:
    """``base`` plus what the demo's processes need: production settings (DEBUG off, the
    secret key in ``var_dir``) served over plain http at ``address``. Values ``base`` already
    has win, so ``DJANGO_DEBUG=1`` gives the debug pages back."""
    host = address.rsplit(":", 1)[0] if ":" in address else "127.0.0.1"  # a bare port is accepted too
    env = dict(base)
    env.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    env.setdefault("DJANGO_DEBUG", "0")
    env.setdefault("DJANGO_INSECURE_HTTP", "1")
    env.setdefault("DJANGO_ALLOWED_HOSTS", ",".join(dict.fromkeys([host, "127.0.0.1", "localhost"])))
    if not env.get("DJANGO_SECRET_KEY"):
        env["DJANGO_SECRET_KEY"] = demo_secret_key(var_dir)
    return env


def web_command(address: str = ADDRESS) -> list[str]:
    """The demo's web server: gunicorn with the production configuration (two workers, each
    loading the model before it takes requests); WhiteNoise serves the collected static files."""
    bind = address if ":" in address else f"127.0.0.1:{address}"
    return [sys.executable, "-m", "gunicorn", "-c", "recsite/gunicorn.conf.py", "--bind", bind, "recsite.wsgi"]


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], check=True)


def main() -> int:
    os.environ.update(demo_environment(os.environ))
    _manage("migrate", "--noinput", "-v", "0")
    _manage("import_movielens")
    _manage("seed_demo")
    _manage("embed")  # vectors for whatever has none yet (first run: all of MovieLens, about a minute)
    _manage("train", "--if-missing")
    _manage("collectstatic", "--noinput", "-v", "0")  # with DEBUG off: hashed, compressed names
    children = [
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "recsite", "worker", "-B",
                          "--loglevel", "INFO", "--concurrency", "1"]),
        subprocess.Popen(web_command(ADDRESS)),
    ]
    import django

    django.setup()
    from django.conf import settings

    from catalog.demo import DEMO_SHOPPER, DEMO_STAFF

    mode = ("DEBUG on (Django's debug pages)" if settings.DEBUG
            else "production settings over plain http; DJANGO_DEBUG=1 make demo for Django's debug pages")
    print(
        f"\n  recsite demo store: http://{ADDRESS}/\n"
        f"  shopper login: {DEMO_SHOPPER[0]} / {DEMO_SHOPPER[1]}\n"
        f"  staff login:   {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  -> http://{ADDRESS}/admin/\n"
        f"  {mode}\n"
        "  Ctrl-C stops the web server and the worker.\n",
        flush=True,
    )
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
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
