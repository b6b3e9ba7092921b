#!/usr/bin/env bash
# `make dev`: the whole system natively, without Docker, from a fresh clone. The set-up of
# scripts/setup.sh (virtualenv, Debian packages), PostgreSQL and Kafka (DATABASE_URL /
# KAFKA_BOOTSTRAP_SERVERS when given, else local ones from scripts/services.sh: running ones are
# reused, the others started), the service roles, the migrations, then api, relay, scheduler,
# mailer, an SMTP sink writing every email into a Maildir folder, and nginx, supervised by honcho
# with Procfile.dev. Ctrl-C stops them all, and PostgreSQL and Kafka too if this script started
# them, and exits 0. Ports and names come from DEV_* variables (docs/deployment.md); .env is not read.
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$SECONDS

DEV_DIR=${DEV_DIR:-$PWD/var/dev}
DEV_DB=${DEV_DB:-todo_dev}
DEV_DB_PASSWORD=${DEV_DB_PASSWORD:-dev}
DEV_WEB_PORT=${DEV_WEB_PORT:-8080}
DEV_API_PORT=${DEV_API_PORT:-8000}
DEV_SMTP_PORT=${DEV_SMTP_PORT:-1025}
DEV_RELAY_METRICS_PORT=${DEV_RELAY_METRICS_PORT:-9108}
DEV_MAILER_HEALTH_PORT=${DEV_MAILER_HEALTH_PORT:-9103}
log() { printf '[dev] %s\n' "$*" >&2; }

for port in "$DEV_WEB_PORT" "$DEV_API_PORT" "$DEV_SMTP_PORT" "$DEV_RELAY_METRICS_PORT" \
  "$DEV_MAILER_HEALTH_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is taken: choose others with DEV_WEB_PORT, DEV_API_PORT, DEV_SMTP_PORT, ..."
    exit 1
  fi
done

scripts/setup.sh dev
export PATH="$PWD/.venv/bin:$PATH"

# PostgreSQL and Kafka: the given ones; else reuse running local ones, start the others, and
# stop those again on exit.
started=()
waiter=""
cleanup() {
  if [ -n "$waiter" ]; then kill "$waiter" 2>/dev/null || true; fi
  for service in "${started[@]}"; do
    log "stopping $service"
    scripts/services.sh "stop-$service" || true
  done
}
trap cleanup EXIT
status=$(scripts/services.sh status 2>/dev/null || true)
given_db=${DATABASE_URL:-} given_kafka=${KAFKA_BOOTSTRAP_SERVERS:-}
if [ -z "$given_db" ] && ! grep -q '^postgres: up' <<<"$status"; then
  started+=(pg)
  scripts/services.sh start-pg
fi
if [ -z "$given_kafka" ] && ! grep -q '^kafka: up' <<<"$status"; then
  started+=(kafka)
  scripts/services.sh start-kafka
fi
eval "$(scripts/services.sh env)"
DATABASE_URL=${given_db:-$DATABASE_URL} KAFKA_BOOTSTRAP_SERVERS=${given_kafka:-$KAFKA_BOOTSTRAP_SERVERS}
export KAFKA_BOOTSTRAP_SERVERS

# Superuser URL for psql (libpq spells the scheme without the driver).
admin=$(sed -E 's#^postgresql\+[a-z0-9]+:#postgresql:#' <<<"$DATABASE_URL")
if [ -z "$(psql -X -At "$admin" -c "SELECT 1 FROM pg_database WHERE datname = '$DEV_DB'")" ]; then
  log "creating database $DEV_DB"
  psql -X -q "$admin" -c "CREATE DATABASE \"$DEV_DB\""
fi
# The same roles as in Docker Compose: an owner that migrates, and one login per service.
psql -X -q "$admin" -v db="$DEV_DB" -v owner_password="$DEV_DB_PASSWORD" \
  -v api_password="$DEV_DB_PASSWORD" -v scheduler_password="$DEV_DB_PASSWORD" \
  -v relay_password="$DEV_DB_PASSWORD" -v mailer_password="$DEV_DB_PASSWORD" \
  -f compose/postgres/service-roles.psql >/dev/null

pg_hostport=${DATABASE_URL#*@}
pg_hostport=${pg_hostport%%/*}
url_for() { echo "postgresql+psycopg://$1:$DEV_DB_PASSWORD@$pg_hostport/$DEV_DB"; }
DATABASE_URL=$(url_for todo_owner) alembic upgrade head
unset DATABASE_URL # no service gets the superuser: each has its own role below

mkdir -p "$DEV_DIR"
export APP_ENV=development LOG_JSON=false
export DEV_API_DATABASE_URL DEV_RELAY_DATABASE_URL DEV_SCHEDULER_DATABASE_URL DEV_MAILER_DATABASE_URL
DEV_API_DATABASE_URL=$(url_for todo_api)
DEV_RELAY_DATABASE_URL=$(url_for todo_relay)
DEV_SCHEDULER_DATABASE_URL=$(url_for todo_scheduler)
DEV_MAILER_DATABASE_URL=$(url_for todo_mailer)
export API_HOST=127.0.0.1 API_PORT=$DEV_API_PORT API_ROOT_PATH=/api
export RELAY_METRICS_HOST=127.0.0.1 RELAY_METRICS_PORT=$DEV_RELAY_METRICS_PORT
export SCHEDULER_HEARTBEAT_FILE=$DEV_DIR/scheduler.heartbeat
export MAILER_HEALTH_HOST=127.0.0.1 MAILER_HEALTH_PORT=$DEV_MAILER_HEALTH_PORT
export SMTP_HOST=127.0.0.1 SMTP_PORT=$DEV_SMTP_PORT SMTP_SECURITY=none
export DEV_SMTP_PORT DEV_MAILDIR=$DEV_DIR/mail
export API_UPSTREAM=127.0.0.1:$DEV_API_PORT LISTEN_PORT=127.0.0.1:$DEV_WEB_PORT
# The digest's unsubscribe links point at the web client nginx serves here.
export APP_PUBLIC_URL=${APP_PUBLIC_URL:-http://127.0.0.1:$DEV_WEB_PORT}
export WEB_ROOT=$PWD/web NGINX_DIR=$DEV_DIR/nginx

banner() {
  cat >&2 <<EOF
[dev] Eventful TODO, natively:
[dev]   app           http://127.0.0.1:$DEV_WEB_PORT/
[dev]   API docs      http://127.0.0.1:$DEV_WEB_PORT/api/docs   (API itself on 127.0.0.1:$DEV_API_PORT)
[dev]   emails        $DEV_MAILDIR/new/, one file each (SMTP sink on 127.0.0.1:$DEV_SMTP_PORT); read them: make mail
[dev]   metrics       api http://127.0.0.1:$DEV_API_PORT/metrics, relay http://127.0.0.1:$DEV_RELAY_METRICS_PORT/metrics, mailer http://127.0.0.1:$DEV_MAILER_HEALTH_PORT/metrics
[dev]   operator      DATABASE_URL=$(url_for todo_owner) KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS .venv/bin/python -m relay trace EVENT_ID   (docs/operations.md)
[dev]   digest now    DATABASE_URL=$DEV_SCHEDULER_DATABASE_URL .venv/bin/python -m scheduler run-once --date \$(date -I)
[dev]   database      $(url_for todo_owner)   Kafka $KAFKA_BOOTSTRAP_SERVERS
[dev] Ctrl-C stops everything.
EOF
}
banner
# Once the app answers through nginx, say so, and repeat the banner below the services' logs.
(
  for _ in $(seq 600); do
    if curl -fs -o /dev/null "http://127.0.0.1:$DEV_WEB_PORT/api/readyz"; then
      log "ready in $((SECONDS - t_start)) s"
      banner
      exit 0
    fi
    sleep 0.2
  done
) &
waiter=$!

# honcho in the background: `wait` returns at once when a signal arrives, so Ctrl-C, or a
# SIGTERM sent to this script alone, reaches honcho and it stops every service.
stopping=false
stop() {
  stopping=true
  kill -INT "$honcho" 2>/dev/null || true
}
trap stop INT TERM HUP
honcho --env /dev/null --procfile Procfile.dev start &
honcho=$!
rc=0
while :; do
  wait "$honcho" || rc=$?
  kill -0 "$honcho" 2>/dev/null || break # not a signal that ended `wait`: honcho itself ended
done
# Ctrl-C reaches honcho too (one process group), and it exits 130 once it stopped everything;
# when its exit wins the race with our trap, the status still says it was Ctrl-C.
if $stopping || [ "$rc" -eq 130 ]; then
  log "stopped"
  exit 0
fi
log "a service stopped (exit $rc), so honcho stopped the others"
exit "$rc"
