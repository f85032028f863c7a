# Two commands on a bare machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint install bench chromium

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || .ci/venv_create $(PYTHON) $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

# The browser tests' Chromium, from Debian's packages when missing and this user may install it; otherwise
# one line says how, and those tests skip (.ci/chromium_ensure).
chromium:
	@.ci/chromium_ensure

# Development: migrate and seed the demo on every start (production migrates once per deploy: the
# Procfile's `release`, never on start). With REDIS_URL set: gunicorn, the Celery workers and the
# scheduler (Procfile, which defaults to production; here PLATFORM_ENV defaults to development, for the
# emulator and the demo data). Without: Django's server with tasks in-process + the scheduler (Procfile.local).
PROCFILE_ROLES := web intake turns outbox maintenance scheduler
run: $(STAMP)
	@mkdir -p .local
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@if [ -n "$$REDIS_URL" ]; then \
		$(BIN)/python manage.py collectstatic --noinput -v0 && \
		PLATFORM_ENV=$${PLATFORM_ENV:-development} exec $(BIN)/honcho -f Procfile start $(PROCFILE_ROLES); \
	else \
		exec $(BIN)/honcho -f Procfile.local start; \
	fi

test: $(STAMP) chromium
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
