#!/usr/bin/env bash
# The set-up `make check` and `make dev` share, safe to repeat (a second run only checks):
#   scripts/setup.sh venv    the Python 3.12 virtualenv .venv from requirements/dev.txt (uv)
#   scripts/setup.sh dev     + the Debian packages the native run needs
#   scripts/setup.sh check   + the Debian packages every lint and test needs
#   scripts/setup.sh uv      print the path of uv (installing it if need be)
# Missing packages are installed with apt-get when we are root; otherwise they are listed with
# the command to install them. Overrides: PYTHON312 (an interpreter), UV (a uv executable).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/eventful-todo
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] %s\n' "$*" >&2; exit 1; }

is_312() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }

# A pyenv shim answers `command -v python3.12` even when it cannot run 3.12, so every candidate
# is asked its version. uv's own Pythons (`uv python install 3.12`) land in ~/.local/bin.
find_python312() {
  local candidate
  if [ -n "${PYTHON312:-}" ]; then
    is_312 "$PYTHON312" || die "PYTHON312=$PYTHON312 is not a Python 3.12 interpreter"
    echo "$PYTHON312"
    return 0
  fi
  for candidate in "$(command -v python3.12 || true)" \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin/python3 2>/dev/null | sort -V -r) \
    "$HOME/.local/bin/python3.12" "$(command -v uv >/dev/null && uv python find 3.12 2>/dev/null || true)" \
    /usr/local/bin/python3.12 /usr/bin/python3.12 "$(command -v python3 || true)"; do
    if is_312 "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  die "Python 3.12 not found. Install it, then run this again:
  - with pyenv: pyenv install 3.12   (found in ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.12.*)
  - with uv:    uv python install 3.12
  - on Debian/Ubuntu releases that package it: apt-get install python3.12 python3.12-venv
  or name one: PYTHON312=/path/to/python3.12 make ..."
}

# uv next to the interpreter (pyenv's pip puts it there), on PATH, or in our own cache, where
# it is installed with pip into a small virtualenv of its own when it is nowhere.
find_uv() {
  local candidate
  for candidate in "${UV:-}" "$(dirname "$1")/uv" "$(command -v uv || true)" "$CACHE/uv/bin/uv"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  log "uv not found: installing it with pip into $CACHE/uv"
  rm -rf "$CACHE/uv"
  mkdir -p "$CACHE"
  "$1" -m venv "$CACHE/uv" >&2 ||
    die "could not create a virtualenv with $1 (Debian: apt-get install python3.12-venv), or install uv yourself: $1 -m pip install uv"
  "$CACHE/uv/bin/python" -m pip install -q --disable-pip-version-check uv >&2 ||
    die "pip could not install uv; install it yourself ($1 -m pip install uv) or set UV=/path/to/uv"
  echo "$CACHE/uv/bin/uv"
}

# The lock file's hash and the interpreter's version in .venv: the same on a second run means
# nothing to do.
venv() {
  local stamp=.venv/.eventful-setup want
  want="$(sha256sum requirements/dev.txt | cut -d' ' -f1) 3.12"
  if is_312 .venv/bin/python && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  local python uv t0=$SECONDS
  python=$(find_python312)
  uv=$(find_uv "$python")
  if ! is_312 .venv/bin/python; then
    log "creating .venv with $python"
    rm -rf .venv
    "$uv" venv -q -p "$python" .venv
  fi
  log "installing requirements/dev.txt into .venv with $uv"
  "$uv" pip sync -q -p .venv/bin/python requirements/dev.txt
  echo "$want" >"$stamp"
  log "virtualenv ready in $((SECONDS - t0)) s"
}

# What each purpose needs, one "kind|what is missing|Debian package" line each; kind `optional`:
# outside CI, `make check` goes on without it and its summary lists what was skipped for want of it.
missing_packages() { # dev|check
  local pg_bin kafka_version
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  # Only when the local services will be started: given URLs need neither.
  if [ -z "${DATABASE_URL:-}" ] && [ ! -x "$pg_bin/pg_ctl" ]; then echo "required|PostgreSQL server|postgresql"; fi
  command -v psql >/dev/null || echo "required|psql|postgresql-client"
  if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    command -v java >/dev/null || echo "required|java (Kafka runs on the JVM, 17 or later)|default-jre-headless"
    # Maven fetches the broker's jars once (scripts/services.sh fetch); cached, it is not needed.
    kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' compose/kafka/pom.xml)
    if [ -z "$(ls "$CACHE/kafka-libs-$kafka_version"/kafka_2.13-*.jar 2>/dev/null)" ]; then
      command -v mvn >/dev/null || echo "required|mvn (fetches Kafka's jars once)|maven"
    fi
  fi
  local kind=required
  [ "$1" = check ] && kind=optional
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || echo "$kind|nginx|nginx-light"
  command -v envsubst >/dev/null || echo "$kind|envsubst (renders the nginx config)|gettext-base"
  command -v curl >/dev/null || echo "$kind|curl|curl"
  [ "$1" = check ] || return 0
  command -v git >/dev/null || echo "optional|git (the fresh-clone test)|git"
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || echo "optional|Chromium (browser tests)|chromium"
  command -v shellcheck >/dev/null || echo "optional|shellcheck (shell lint)|shellcheck"
  # Node.js may come from elsewhere with its own npm: Debian's npm only where there is none.
  command -v npm >/dev/null || echo "optional|npm (type-checks the web client with tsc)|npm"
  command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || ls "$CACHE"/tools/actionlint-* >/dev/null 2>&1 ||
    echo "optional|go (builds actionlint once)|golang-go"
}

packages() { # dev|check
  local lines line names=() fatal=false
  mapfile -t lines < <(missing_packages "$1")
  [ ${#lines[@]} -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    for line in "${lines[@]}"; do names+=("${line##*|}"); done
    log "installing Debian packages: ${names[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${names[@]}" >/dev/null
    mapfile -t lines < <(missing_packages "$1")
    [ ${#lines[@]} -gt 0 ] || return 0
  fi
  log "missing on this machine:"
  names=()
  for line in "${lines[@]}"; do
    IFS='|' read -r kind what package <<<"$line"
    log "  - $what   (Debian package $package)"
    names+=("$package")
    if [ "$kind" = required ] || [ "${CI:-}" = true ]; then fatal=true; fi
  done
  log "install them with: sudo apt-get install ${names[*]}"
  if $fatal; then exit 1; fi
  log "going on without them: the checks that need them are skipped and listed at the end"
}

case "${1:-}" in
  venv) venv ;;
  uv) find_uv "$(find_python312)" ;;
  dev | check) venv; packages "$1" ;;
  *) echo "usage: $0 venv|dev|check|uv" >&2; exit 2 ;;
esac
