# One entry point for developers and CI. `make check` = every lint + every test (the README's command).
SHELL := /bin/bash
PY ?= .venv/bin/python
PYTHON312 ?= $(shell ls -d /root/.pyenv/versions/3.12.*/bin/python3 2>/dev/null | tail -n 1 || command -v python3.12)
SERVICES := scripts/services.sh

.PHONY: venv lock lint test check services-start services-stop dev clean

venv:
	@command -v uv >/dev/null || $(PYTHON312) -m pip install -q uv
	@test -x $(PY) || uv venv -q -p $(PYTHON312) .venv
	uv pip sync -q -p $(PY) requirements/dev.txt

lock:
	uv pip compile pyproject.toml --python-version 3.12 --generate-hashes -q -o requirements/base.txt
	uv pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes -q -o requirements/dev.txt

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	.venv/bin/lint-imports
	$(PY) -m app.core.schema_export --check
	@scripts/lint-extra.sh

test:
	$(PY) -m pytest

check: lint test

services-start:
	$(SERVICES) start

services-stop:
	$(SERVICES) stop

dev:
	scripts/dev.sh
