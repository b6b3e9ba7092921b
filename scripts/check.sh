#!/usr/bin/env bash
# `make check`: every lint and every test, from a fresh clone or the tenth run alike.
#   1. set-up (scripts/setup.sh check): the virtualenv from the locks and the Debian packages;
#   2. PostgreSQL and Kafka: DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when given, otherwise local
#      ones of check's own (scripts/services.sh with their own folder and ports, so a running
#      `make dev` is left alone), started for this run and stopped after it;
#   3. every lint, then every test (pytest; PYTEST_ARGS adds arguments, e.g. "-m unit");
#   4. a summary: each step's result and every skipped check with its reason. Under CI=true a
#      skip fails the run: a CI that skipped a check proved nothing.
#   scripts/check.sh --setup-only   steps 1 and 2 only (services started, then stopped)
# Ports: CHECK_PG_PORT (25433), CHECK_KAFKA_PORT (29094), CHECK_KAFKA_CONTROLLER_PORT (29095);
# folder: CHECK_SERVICES_DIR (beside scripts/services.sh's own, named check-services).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/var/check
mkdir -p "$OUT"
SKIPS=$OUT/skipped.txt
: >"$SKIPS"
t_start=$SECONDS
results=()
failed=0
step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)" >&2; }

step "set-up: virtualenv and Debian packages"
scripts/setup.sh check
export PATH="$ROOT/.venv/bin:$PATH"
PY=$ROOT/.venv/bin/python

step "PostgreSQL and Kafka"
services=()
[ -n "${DATABASE_URL:-}" ] || services+=(pg)
[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || services+=(kafka)
if [ ${#services[@]} -gt 0 ]; then
  export SERVICES_DIR=${CHECK_SERVICES_DIR:-$(dirname "$(env -u SERVICES_DIR scripts/services.sh dir)")/check-services}
  export PG_PORT=${CHECK_PG_PORT:-25433} KAFKA_PORT=${CHECK_KAFKA_PORT:-29094}
  export KAFKA_CONTROLLER_PORT=${CHECK_KAFKA_CONTROLLER_PORT:-29095}
  stop_services() {
    local service
    for service in "${services[@]}"; do scripts/services.sh "stop-$service" || true; done
  }
  trap stop_services EXIT
  for service in "${services[@]}"; do scripts/services.sh "start-$service"; done
  given_db=${DATABASE_URL:-} given_kafka=${KAFKA_BOOTSTRAP_SERVERS:-}
  eval "$(scripts/services.sh env)"
  DATABASE_URL=${given_db:-$DATABASE_URL} KAFKA_BOOTSTRAP_SERVERS=${given_kafka:-$KAFKA_BOOTSTRAP_SERVERS}
  echo "local ${services[*]} in $SERVICES_DIR" >&2
fi
export DATABASE_URL KAFKA_BOOTSTRAP_SERVERS
# A given URL may hold a password: not into the log.
echo "DATABASE_URL=$(sed -E 's#://([^:/@]+):[^@]*@#://\1:***@#' <<<"$DATABASE_URL")" \
  "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" >&2
setup_seconds=$((SECONDS - t_start))
echo "set-up done in $setup_seconds s" >&2
if [ "${1:-}" = --setup-only ]; then exit 0; fi

run() { # name command...: run one check, keep going after a failure, remember the result
  local name=$1 t0=$SECONDS rc=0
  shift
  step "$name"
  "$@" || rc=$?
  if [ $rc = 0 ]; then
    results+=("ok      $name ($((SECONDS - t0)) s)")
  else
    results+=("FAILED  $name ($((SECONDS - t0)) s, exit $rc)")
    failed=1
  fi
}

export CHECK_SKIPS_FILE=$SKIPS # scripts/lint-extra.sh appends the tools it had to skip
run "ruff check" "$PY" -m ruff check .
run "ruff format --check" "$PY" -m ruff format --check .
run "mypy" "$PY" -m mypy
run "import-linter" "$ROOT/.venv/bin/lint-imports"
run "event contracts (schema_export --check)" "$PY" -m app.core.schema_export --check
run "shellcheck, compose, hadolint, actionlint (lint-extra.sh)" scripts/lint-extra.sh
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of words
run "pytest" "$PY" -m pytest --junitxml="$OUT/junit.xml" ${PYTEST_ARGS:-}
if [ -f "$OUT/junit.xml" ]; then
  "$PY" scripts/skips.py "$OUT/junit.xml" >>"$SKIPS"
fi

step "summary (set-up $setup_seconds s, total $((SECONDS - t_start)) s)"
printf '%s\n' "${results[@]}" >&2
if [ -s "$SKIPS" ]; then
  echo "skipped:" >&2
  sed 's/^/  /' "$SKIPS" >&2
  if [ "${CI:-}" = true ]; then
    echo "CI=true: a skipped check is a failure" >&2
    failed=1
  fi
else
  echo "skipped: nothing" >&2
fi
exit $failed
