# One entry point for developers and CI; each target works from a fresh clone (the set-up is in
# scripts/setup.sh and is a no-op when already done). `make check` is the README's test command.
SHELL := /bin/bash
PY := .venv/bin/python
# An interpreter of your choice: make venv PYTHON312=/path/to/python3.12 (else found by setup.sh).
PYTHON312 ?=
export PYTHON312

.PHONY: venv check-setup check lint test dev mail lock services-start services-stop

venv:
	@scripts/setup.sh venv

# Set-up only: virtualenv, Debian packages, and check's own PostgreSQL and Kafka started once.
check-setup:
	@scripts/check.sh --setup-only

# Every lint and every test, with all their set-up; PYTEST_ARGS="-m unit" narrows the tests.
check:
	@scripts/check.sh

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	.venv/bin/lint-imports
	$(PY) -m app.core.schema_export --check
	@scripts/lint-extra.sh

# The tests alone, with the services the environment names (or testcontainers, or skips).
test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# `set -m`: dev.sh runs as the terminal's foreground job of its own, so Ctrl-C reaches it (it
# stops everything and exits 0) and not make, which would report the interrupt as an error.
dev:
	@set -m; scripts/dev.sh; status=$$?; exit $$status

mail:
	@$(if $(wildcard $(PY)),$(PY),python3) scripts/mail.py $(if $(N),-n $(N))

lock:
	uv=$$(scripts/setup.sh uv) && \
	"$$uv" pip compile pyproject.toml --python-version 3.12 --generate-hashes -q -o requirements/base.txt && \
	"$$uv" pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes -q -o requirements/dev.txt

services-start:
	scripts/services.sh start

services-stop:
	scripts/services.sh stop
