# recsite: `make demo` serves the demo store, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-$(shell cat requirements.txt | sha1sum | cut -c1-12)
CHROMIUM := /usr/bin/chromium

.PHONY: demo test bench lint services stop venv setup browser clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.requirements-* && touch $@

venv: $(STAMP)

# apt waits (up to 10 minutes) for another apt or dpkg run to finish instead of failing.
APT := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600

# Debian's chromium for the browser tests (playwright never downloads a browser here).
browser:
	@test -x $(CHROMIUM) || ($(APT) update -qq && $(APT) install -y -qq chromium >/dev/null)

services: venv
	$(PY) -m recsite.services_cli start

setup: services
	$(PY) manage.py migrate --noinput -v 0

demo: setup
	$(PY) -m recsite.rundemo

test: venv browser services
	$(PY) -m pytest

bench: setup
	@command -v wrk >/dev/null || ($(APT) update -qq && $(APT) install -y -qq wrk >/dev/null)
	$(PY) manage.py import_movielens --no-progress
	$(PY) manage.py embed --no-progress
	$(PY) manage.py train --if-missing
	$(PY) -m bench --skip scale  # the scale benchmark (an hour or more): python -m bench scale

lint: venv
	$(VENV)/bin/ruff check .

stop:
	$(PY) -m recsite.services_cli stop

clean: stop
	rm -rf var/pgdata var/redis.* var/.pg-database-*
