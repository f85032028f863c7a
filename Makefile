# Two commands on a bare machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint install bench

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

# With REDIS_URL set: gunicorn + Celery worker + Celery beat (Procfile, which defaults to production;
# here PLATFORM_ENV defaults to development, for the emulator and the demo data).
# Without: Django's server with tasks in-process + the in-process scheduler (Procfile.local).
run: $(STAMP)
	@mkdir -p .local
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@if [ -n "$$REDIS_URL" ]; then \
		$(BIN)/python manage.py collectstatic --noinput -v0 && \
		PLATFORM_ENV=$${PLATFORM_ENV:-development} exec $(BIN)/honcho -f Procfile start; \
	else \
		exec $(BIN)/honcho -f Procfile.local start; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
