#!/usr/bin/env bash
# The README's curl walk through the REST API: register, log in, add two tasks, complete one,
# list them, delete the other, then ask for today's digest email.
#   scripts/walkthrough.sh [BASE_URL]   default $BASE_URL, else http://localhost:8080/api (nginx)
#   DIGEST_COMMAND   a command that triggers today's digest; run if set, else only printed
#   EMAIL, PASSWORD  the account to create (default: a new address each run)
set -euo pipefail
base=${1:-${BASE_URL:-http://localhost:8080/api}}
email=${EMAIL:-walker-$(date +%s)-$RANDOM@example.com}
password=${PASSWORD:-a-long-walk-in-the-park}

step() { printf '\n# %s\n' "$*"; }
# Every request: fail on an HTTP error but show its body, and end the output with a newline.
call() { curl --fail-with-body --silent --show-error -w '\n' -H 'Content-Type: application/json' "$@"; }
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

step "Register an account"
call -X POST "$base/auth/register" -d "{\"email\": \"$email\", \"password\": \"$password\"}"

step "Log in and keep the bearer token"
token=$(call -X POST "$base/auth/login" -d "{\"email\": \"$email\", \"password\": \"$password\"}" | field access_token)
auth="Authorization: Bearer $token"

step "Create two tasks"
milk=$(call -X POST "$base/tasks" -H "$auth" -d '{"title": "Buy milk"}' | field id)
report=$(call -X POST "$base/tasks" -H "$auth" -d '{"title": "Write the report"}' | field id)
echo "created $milk and $report"

step "Complete the first one"
call -X PATCH "$base/tasks/$milk" -H "$auth" -d '{"done": true}'

step "List my tasks"
call "$base/tasks" -H "$auth"

step "Delete the second one"
call -X DELETE "$base/tasks/$report" -H "$auth"

step "Send today's digest now (the scheduler does it after midnight by itself)"
if [ -n "${DIGEST_COMMAND:-}" ]; then
  echo "$DIGEST_COMMAND"
  sh -c "$DIGEST_COMMAND"
else
  echo 'Docker Compose: docker compose exec scheduler python -m scheduler run-once --date "$(date -I)"'
  echo "then find the email to $email in Mailpit at http://localhost:8025"
fi
