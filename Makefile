# Grassroots: `make run` serves the app with a demo county; `make test` runs every test.
# Both do their own set-up on a fresh machine: virtual environment, packages, messages, database.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
GRASSROOTS := $(BIN)/grassroots
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_HOUSEHOLDS ?= 2000

CHROMIUM ?= /usr/bin/chromium

.PHONY: install assets browser messages migrate demo run test test-only lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Front-end libraries (htmx, ECharts, Leaflet) from the npm registry, at the versions of the
# committed package-lock.json, copied into the package's static folder (build output, not in
# git) so that whitenoise serves them and the wheel carries them.
VENDOR := src/grassroots/web/static/vendor
NPM_STAMP := node_modules/.installed-$(shell sha1sum package-lock.json | cut -c1-12)

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "installing Node.js and npm"; \
	  (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null || \
	  { echo "npm is missing: install Node.js"; exit 1; }; }
	npm ci --no-audit --no-fund --loglevel=error
	rm -f node_modules/.installed-*
	touch $(NPM_STAMP)

$(VENDOR)/.copied: $(NPM_STAMP) build_assets.py
	$(PYTHON) build_assets.py
	touch $@

assets: $(VENDOR)/.copied

# The browser tests (tests/browser) drive Debian's Chromium through Playwright; a Chinese font
# makes their screenshots readable.
browser:
	@test -x $(CHROMIUM) && fc-list :lang=zh | grep -q . || { echo "installing chromium and a Chinese font (browser tests)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei) >/dev/null || \
	  { echo "$(CHROMIUM) is missing: install Debian's chromium package"; exit 1; }; }

# Compiled translations (.mo) are build output: made here from the .po files with GNU gettext.
messages: install assets
	@command -v msgfmt >/dev/null || { echo "installing gettext (msgfmt)"; \
	  (apt-get update -qq && apt-get install -y -qq gettext) >/dev/null || \
	  { echo "msgfmt is missing: install GNU gettext"; exit 1; }; }
	cd src/grassroots && ../../$(GRASSROOTS) compilemessages --verbosity 0

migrate: messages
	$(GRASSROOTS) migrate --verbosity 0

demo: migrate
	$(GRASSROOTS) demo --if-empty --households $(DEMO_HOUSEHOLDS)

# The background worker (imports, notifications, the escalation sweep) runs beside the server.
run: demo
	@echo "Serving http://$(HOST):$(PORT)/  (demo users and passwords: var/demo-users.txt)"
	$(GRASSROOTS) worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(GRASSROOTS) runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports --no-cache

test: messages browser lint test-only

test-only: install
	$(BIN)/pytest

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: messages
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var build dist src/*.egg-info
