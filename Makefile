# DCP: the two commands of the README, and what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The test suite runs against real services: PostgreSQL and a Redis broker on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dcp
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint check setup

$(BIN)/.installed: requirements.txt requirements-emulators.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The console's translations are compiled from locale/*.po on every setup, so no stale .mo is ever committed.
setup: $(BIN)/.installed
	$(BIN)/python manage.py compilemessages --ignore .venv --verbosity 0

# make run serves on DCP_ADDR (default 127.0.0.1:8000); the emulated clouds listen on DCP_EMULATOR_PORT
# (default 5000: AWS) and the next two ports (Aliyun, OpenStack).
run: setup
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py demo
	$(BIN)/python manage.py serve --addr $${DCP_ADDR:-127.0.0.1:8000}

# The initialization content is held to its communities' checks: ansible-lint's production profile (.ansible-lint),
# puppet-lint with warnings as failures, and Puppet's own parser.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ansible-lint --nocolor playbooks
	puppet-lint --fail-on-warnings puppet
	puppet parser validate $$(find puppet -name '*.pp' | sort)

# Checks that need settings but no data: run on the embedded default.
check: setup
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/python manage.py check_translations
	DCP_ENV=production SECRET_KEY=deploy-check-$$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n') \
	  DCP_ENCRYPTION_KEY=$$($(BIN)/python -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())') \
	  DATABASE_URL=postgres://localhost/unused CELERY_BROKER_URL=redis://localhost:6379/0 ALLOWED_HOSTS=dcp.example.com \
	  DCP_DATA_DIR=$$(mktemp -d) DCP_STATIC_ROOT=$$(mktemp -d) \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

test: setup lint check
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)
