"""``make demo``: production settings (DEBUG off) over plain http on localhost.

The settings are computed when they are imported, so the web configuration is checked on the
real thing: ``manage.py collectstatic`` and the demo's gunicorn as subprocesses with the
environment ``recsite.rundemo`` gives its processes, on the test database."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from recsite import rundemo

ROOT = Path(__file__).resolve().parent.parent


def test_secret_key_is_generated_once_and_private(tmp_path):
    key = rundemo.demo_secret_key(tmp_path)
    path = tmp_path / rundemo.SECRET_KEY_FILE
    assert len(key) >= 50 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert rundemo.demo_secret_key(tmp_path) == key
    assert [p.name for p in tmp_path.iterdir()] == [rundemo.SECRET_KEY_FILE]


def test_environment_defaults_and_what_the_developer_set_wins(tmp_path):
    env = rundemo.demo_environment({}, "127.0.0.1:8011", tmp_path)
    assert env["DJANGO_DEBUG"] == "0" and env["DJANGO_INSECURE_HTTP"] == "1"
    assert env["DJANGO_ALLOWED_HOSTS"] == "127.0.0.1,localhost"
    assert env["DJANGO_SECRET_KEY"] == (tmp_path / rundemo.SECRET_KEY_FILE).read_text().strip()
    assert rundemo.demo_environment({}, "0.0.0.0:80", tmp_path)["DJANGO_ALLOWED_HOSTS"] == "0.0.0.0,127.0.0.1,localhost"
    mine = rundemo.demo_environment({"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": "k" * 60}, "127.0.0.1:8011", tmp_path)
    assert mine["DJANGO_DEBUG"] == "1" and mine["DJANGO_SECRET_KEY"] == "k" * 60


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx comes back as an HTTPError the test can look at


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_web(transactional_db, tmp_path):
    """The demo's web server on the test database: collectstatic and gunicorn with the demo's
    environment (its own var/ under tmp_path, so the static files and key stay out of var/)."""
    from django.conf import settings
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.contrib.auth.models import User
    from django.db import connection

    db = {key: urllib.parse.quote(str(connection.settings_dict[key] or ""), safe="")
          for key in ("USER", "PASSWORD", "HOST", "PORT", "NAME")}
    address = f"127.0.0.1:{_free_port()}"
    base = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}  # not the test settings
    base |= {
        "RECSITE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    env = rundemo.demo_environment(base, address, tmp_path)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True, timeout=120)
    hasher = PBKDF2PasswordHasher()  # the demo's settings have no MD5 hasher, the test settings' default
    User.objects.create(username="walkin", password=hasher.encode("walk-in-2026", hasher.salt()))
    log = tmp_path / "web.log"
    with log.open("wb") as output:
        server = subprocess.Popen(rundemo.web_command(address), cwd=ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    base_url = f"http://{address}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.build_opener(_NoRedirect).open(f"{base_url}/healthz", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # up, though answering something else (the test says what)
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_demo_serves_production_pages_over_plain_http(demo_web):
    jar = http.cookiejar.CookieJar()  # like a browser, it sends a Secure cookie back over https only
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)

    def get(path: str, data: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        body = None if data is None else urllib.parse.urlencode(data).encode()
        try:
            with browser.open(urllib.request.Request(f"{demo_web}{path}", data=body), timeout=20) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    status, headers, home = get("/")
    assert status == 200, (status, headers.get("Location"))  # no redirect to https
    assert "Strict-Transport-Security" not in headers and headers["X-Frame-Options"] == "DENY"

    # the stylesheet, under its hashed name (manifest storage: DEBUG is off), served by WhiteNoise
    stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', home)
    assert stylesheet, home[:2000]
    status, headers, css = get(stylesheet[1])
    assert status == 200 and headers["Content-Type"].startswith("text/css") and "immutable" in headers["Cache-Control"]
    assert css == (ROOT / "static/css/site.css").read_text()

    status, _, form = get("/accounts/login/")
    assert status == 200
    cookies = {cookie.name: cookie for cookie in jar}
    assert {"sessionid", "csrftoken"} <= set(cookies) and not any(cookie.secure for cookie in cookies.values())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    status, headers, _ = get("/accounts/login/", {"csrfmiddlewaretoken": token, "username": "walkin",
                                                 "password": "walk-in-2026"})
    assert status == 302 and headers["Location"] == "/", status  # CSRF passed over http; logged in
    assert not any(cookie.secure for cookie in jar)

    status, _, missing = get("/no-such-page/")
    assert status == 404
    assert "We could not find that page" in missing  # templates/404.html, not Django's debug page
    assert "URLconf" not in missing and "DEBUG = True" not in missing
