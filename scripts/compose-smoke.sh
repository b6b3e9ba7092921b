#!/usr/bin/env bash
# Smoke test of a running `docker compose up`: through nginx, register a user, add two tasks,
# complete one, run the digest with the scheduler's one-shot command, and wait until Mailpit
# holds exactly one digest for that user listing the open task. CI runs it; so can you.
#   FRONTEND_URL (default http://127.0.0.1:8080), MAILPIT_URL (default http://127.0.0.1:8025)
set -euo pipefail
cd "$(dirname "$0")/.."
api=${FRONTEND_URL:-http://127.0.0.1:8080}/api
mailpit=${MAILPIT_URL:-http://127.0.0.1:8025}
email="smoke-$(date +%s)-$RANDOM@example.com"
password="smoke-test-$RANDOM-password"

json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
call() { # method path [json-body]
  local args=(--fail-with-body --silent --show-error -X "$1" "$api$2")
  args+=(-H 'Content-Type: application/json')
  if [ -n "${token:-}" ]; then args+=(-H "Authorization: Bearer $token"); fi
  if [ $# -ge 3 ]; then args+=(--data "$3"); fi
  curl "${args[@]}"
}

page=$(curl --fail --silent --show-error "${FRONTEND_URL:-http://127.0.0.1:8080}/")
grep -qi '<!doctype html' <<<"$page"
call GET /readyz >/dev/null
call POST /auth/register "{\"email\": \"$email\", \"password\": \"$password\"}" >/dev/null
token=$(call POST /auth/login "{\"email\": \"$email\", \"password\": \"$password\"}" | json 'd["access_token"]')
call POST /tasks '{"title": "water the plants"}' >/dev/null
done_id=$(call POST /tasks '{"title": "file the taxes"}' | json 'd["id"]')
call PATCH "/tasks/$done_id" '{"done": true}' >/dev/null
echo "smoke: $email registered with 2 tasks (1 done) through nginx"

# Today's digest: the daemon itself only ever writes days that have ended.
docker compose exec -T scheduler python -m scheduler run-once --date "$(date -u +%F)"

deadline=$((SECONDS + 120))
found() { curl -fsS "$mailpit/api/v1/search?query=to:$email" | json "$1"; }
until [ "$(found 'len(d["messages"])')" = 1 ]; do
  if [ $SECONDS -ge $deadline ]; then
    echo "smoke: no digest for $email in Mailpit within 120 s" >&2
    exit 1
  fi
  sleep 1
done
text=$(curl -fsS "$mailpit/api/v1/message/$(found 'd["messages"][0]["ID"]')" | json 'd["Text"]')
grep -q "water the plants" <<<"$text"
if grep -q "file the taxes" <<<"$text"; then
  echo "smoke: the digest lists a completed task" >&2
  exit 1
fi
echo "smoke: one digest for $email in Mailpit, listing the open task: OK"
