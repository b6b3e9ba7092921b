#!/usr/bin/env bash
# Smoke test of a running `docker compose up`: the README's walk-through (scripts/walkthrough.sh)
# through nginx, with the scheduler's one-shot command as its digest step, then wait until
# Mailpit holds exactly one digest for that user: one task done, none left to do, no title of a
# completed or deleted task listed. CI runs it; so can you.
# Then Prometheus must scrape every service and Grafana serve the provisioned dashboard.
#   FRONTEND_URL (default http://127.0.0.1:8080), MAILPIT_URL (default http://127.0.0.1:8025),
#   PROMETHEUS_URL (default http://127.0.0.1:9090), GRAFANA_URL (default http://127.0.0.1:3000)
set -euo pipefail
cd "$(dirname "$0")/.."
frontend=${FRONTEND_URL:-http://127.0.0.1:8080}
mailpit=${MAILPIT_URL:-http://127.0.0.1:8025}
prometheus=${PROMETHEUS_URL:-http://127.0.0.1:9090}
grafana=${GRAFANA_URL:-http://127.0.0.1:3000}
EMAIL="smoke-$(date +%s)-$RANDOM@example.com"
export EMAIL

json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

page=$(curl --fail --silent --show-error "$frontend/")
grep -qi '<!doctype html' <<<"$page"
curl --fail --silent --show-error "$frontend/api/readyz" >/dev/null
# Today's digest: the daemon itself only ever writes days that have ended.
DIGEST_COMMAND="docker compose exec -T scheduler python -m scheduler run-once --date $(date -u +%F)" \
  scripts/walkthrough.sh "$frontend/api"

deadline=$((SECONDS + 120))
found() { curl -fsS "$mailpit/api/v1/search?query=to:$EMAIL" | json "$1"; }
until [ "$(found 'len(d["messages"])')" = 1 ]; do
  if [ $SECONDS -ge $deadline ]; then
    echo "smoke: no digest for $EMAIL in Mailpit within 120 s" >&2
    exit 1
  fi
  sleep 1
done
message=$(curl -fsS "$mailpit/api/v1/message/$(found 'd["messages"][0]["ID"]')")
subject=$(json 'd["Subject"]' <<<"$message")
text=$(json 'd["Text"]' <<<"$message")
grep -q "0 to do, 1 done" <<<"$subject"
if grep -q -e "Buy milk" -e "Write the report" <<<"$text"; then
  echo "smoke: the digest lists a completed or deleted task" >&2
  exit 1
fi
echo "smoke: one digest for $EMAIL in Mailpit ($subject): OK"

# Every scrape target up (api, relay, mailer, scheduler), within two scrape intervals or so.
targets() { curl -fsS "$prometheus/api/v1/targets" | json "$1"; }
up='sorted(t["labels"]["job"] for t in d["data"]["activeTargets"] if t["health"] == "up")'
deadline=$((SECONDS + 60))
until [ "$(targets "$up")" = "['api', 'mailer', 'relay', 'scheduler']" ]; do
  if [ $SECONDS -ge $deadline ]; then
    echo "smoke: Prometheus targets not all up: $(targets "$up")" >&2
    exit 1
  fi
  sleep 2
done
title=$(curl -fsS "$grafana/api/dashboards/uid/eventful-todo-pipeline" | json 'd["dashboard"]["title"]')
echo "smoke: Prometheus scrapes every service, Grafana serves \"$title\": OK"
