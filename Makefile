# The two commands a new user needs (see README.md):
#   make demo   install xiaoan and serve the demo campus on the embedded store
#   make test   install xiaoan with its test tools, provision PostGIS / Mosquitto /
#               Chromium where it can, and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: install demo test lint bench i18n

install:
	$(PYTHON) -m pip install -q -e ".[test]"

demo: install
	xiaoan demo

test: install
	source tests/services.sh && $(PYTHON) -m pytest $(PYTEST_ARGS)

lint:
	ruff check . && mypy

bench:
	$(PYTHON) -m pip install -q -e ".[test,bench]"
	@# wrk (a C load generator) drives the HTTP ingest bench; without it a Python client is used
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; } || true
	@# ogr2ogr (gdal-bin) is the peer of the import bench; without it that bench times ours only
	@command -v ogr2ogr >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin >/dev/null 2>&1; } || true
	source tests/services.sh && $(PYTHON) -m bench all

# The one message catalogue (layers/i18n/): re-extract every text marked for people from the pages,
# their scripts, the CLI and the pictures, merge it into the .po files (translate the new
# entries there), and compile the shipped .mo files.
i18n:
	pybabel extract -F babel.cfg -k _l -k lazy_gettext -k gettext --no-location --sort-output \
	  --project=xiaoan -o layers/i18n/messages.pot .
	pybabel update -i layers/i18n/messages.pot -d layers/i18n/locales --no-location --no-fuzzy-matching
	pybabel compile -d layers/i18n/locales --statistics
