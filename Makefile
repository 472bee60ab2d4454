# DCP: the two commands of the README, and what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The test suite runs against real services: PostgreSQL and a Redis broker on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dcp
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint check setup

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py demo
	$(BIN)/python manage.py serve --addr $${DCP_ADDR:-127.0.0.1:8000}

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Checks that need settings but no data: run on the embedded default.
check: setup
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

test: setup lint check
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)
