#!/usr/bin/env bash
# Local PostgreSQL and Apache Kafka without Docker, on loopback and spare ports, with all their
# data under $SERVICES_DIR (default: ./var/services). Used by developers, `make dev` and .ci/run.
#
#   scripts/services.sh start    # initialise on first use, start both, wait until they accept connections
#   scripts/services.sh status   # is each one up?
#   scripts/services.sh env      # print DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS for `eval`
#   scripts/services.sh dir      # print the folder their data live in
#   scripts/services.sh stop     # SIGTERM both (SIGKILL Kafka after 30 s)
#   scripts/services.sh start-pg|stop-pg|start-kafka|stop-kafka|kill-kafka   # one at a time (fault tests)
#
# PG_WAL_LEVEL=logical starts PostgreSQL with logical decoding, as the Debezium peer of the
# bench needs (`python -m bench.peers`); restart it (stop-pg, start-pg) to change the level.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# As root, PostgreSQL runs as `postgres`, who may not enter a clone under a private home: then
# the data live in a folder of this clone's own under /tmp.
default_dir() {
  if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
    echo "$ROOT/var/services"
  else
    local base
    base=${TMPDIR:-/tmp}/eventful-todo-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)
    install -d -m 755 "$base"
    echo "$base/services"
  fi
}
SERVICES_DIR=$(realpath -m "${SERVICES_DIR:-$(default_dir)}")
# Below Linux's ephemeral range (32768-60999), so a client socket can never hold our port
# while a service restarts.
PG_PORT=${PG_PORT:-25432}
KAFKA_PORT=${KAFKA_PORT:-29092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-29093}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/compose/kafka/pom.xml")
KAFKA_LIBS=${KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/eventful-todo/kafka-libs-$KAFKA_VERSION}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PG_WAL_LEVEL=${PG_WAL_LEVEL:-}

PG_DATA=$SERVICES_DIR/postgres
KAFKA_DATA=$SERVICES_DIR/kafka
KAFKA_PID=$KAFKA_DATA/kafka.pid

log() { printf '[services] %s\n' "$*" >&2; }

# PostgreSQL refuses to run as root: run it as the unprivileged `postgres` user when we are root.
as_pg() {
  if [ "$(id -u)" != 0 ]; then "$@"; return; fi
  # From a folder `postgres` may not enter, its tools would say so first: start them from /.
  (cd / && runuser -u postgres -- "$@")
}

wait_port() { # name port seconds
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then log "$1 did not open 127.0.0.1:$2 within $3 s"; return 1; fi
    sleep 0.2
  done
}

pg_init() {
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  log "initialising PostgreSQL in $PG_DATA"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$SERVICES_DIR" "$PG_DATA"
  chmod 700 "$PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = on
log_min_messages = warning
CONF
}

pg_start() {
  command -v "$PG_BIN/pg_ctl" >/dev/null || { log "PostgreSQL binaries not found (apt-get install postgresql)"; return 1; }
  mkdir -p "$SERVICES_DIR"
  pg_init
  if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then log "PostgreSQL already running"; return 0; fi
  local t0=$SECONDS
  local options="-p $PG_PORT -k $PG_DATA"
  [ -n "$PG_WAL_LEVEL" ] && options="$options -c wal_level=$PG_WAL_LEVEL"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -o "$options" \
    -w -t 60 start >/dev/null
  wait_port PostgreSQL "$PG_PORT" 30
  log "PostgreSQL up on 127.0.0.1:$PG_PORT in $((SECONDS - t0)) s${PG_WAL_LEVEL:+ (wal_level=$PG_WAL_LEVEL)}"
}

pg_stop() {
  [ -f "$PG_DATA/PG_VERSION" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
}

kafka_fetch() {
  if [ -n "$(ls "$KAFKA_LIBS"/kafka_2.13-*.jar 2>/dev/null)" ]; then return 0; fi
  log "fetching Kafka $KAFKA_VERSION and its runtime classpath with Maven into $KAFKA_LIBS"
  mvn -q -B -f "$ROOT/compose/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS"
}

kafka_init() {
  mkdir -p "$KAFKA_DATA/logs"
  cat >"$KAFKA_DATA/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA/logs
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=16777216
auto.create.topics.enable=false
PROPS
  cat >"$KAFKA_DATA/log4j2.yaml" <<'YAML'
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaServer
        level: INFO
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: kafka.Kafka
        level: INFO
YAML
  if [ ! -f "$KAFKA_DATA/logs/meta.properties" ]; then
    # A cluster id is a 22-character base64url UUID; it may start with "-", hence --cluster-id=.
    local cluster_id
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | head -c 22)
    kafka_java kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$KAFKA_DATA/server.properties" >/dev/null
  fi
}

kafka_jvm() {
  printf '%s\n' -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_DATA/log4j2.yaml" -cp "$KAFKA_LIBS/*"
}

kafka_java() { mapfile -t jvm < <(kafka_jvm); java "${jvm[@]}" "$@"; }

# The broker replaces its subshell, so the pid file names the JVM itself. In a session of its
# own (setsid without a fork: the subshell leads no process group), a Ctrl-C in the terminal
# that started it does not reach it; whoever started it stops it (`make dev` after its services).
kafka_exec() {
  mapfile -t jvm < <(kafka_jvm)
  if command -v setsid >/dev/null; then exec setsid java "${jvm[@]}" "$@"; fi
  exec java "${jvm[@]}" "$@"
}

kafka_running() { [ -f "$KAFKA_PID" ] && kill -0 "$(cat "$KAFKA_PID")" 2>/dev/null; }

kafka_start() {
  if kafka_running; then log "Kafka already running"; return 0; fi
  kafka_fetch
  kafka_init
  local t0=$SECONDS
  (kafka_exec kafka.Kafka "$KAFKA_DATA/server.properties" >>"$KAFKA_DATA/server.log" 2>&1 </dev/null) &
  echo $! >"$KAFKA_PID"
  wait_port Kafka "$KAFKA_PORT" 120 || { tail -n 30 "$KAFKA_DATA/server.log" >&2; return 1; }
  log "Kafka $KAFKA_VERSION up on 127.0.0.1:$KAFKA_PORT in $((SECONDS - t0)) s (pid $(cat "$KAFKA_PID"))"
}

kafka_stop() { # signal grace-seconds
  kafka_running || { rm -f "$KAFKA_PID"; return 0; }
  local pid deadline
  pid=$(cat "$KAFKA_PID")
  kill "-${1:-TERM}" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + ${2:-30}))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$KAFKA_PID"
}

print_env() {
  echo "export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
}

status() {
  local rc=0
  if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then echo "postgres: up (127.0.0.1:$PG_PORT)"; else echo "postgres: down"; rc=1; fi
  if kafka_running; then echo "kafka: up (127.0.0.1:$KAFKA_PORT, pid $(cat "$KAFKA_PID"))"; else echo "kafka: down"; rc=1; fi
  return $rc
}

case "${1:-}" in
  start) pg_start; kafka_start; print_env ;;
  dir) echo "$SERVICES_DIR" ;;
  stop) kafka_stop TERM 30; pg_stop ;;
  status) status ;;
  env) print_env ;;
  start-pg) pg_start ;;
  stop-pg) pg_stop ;;
  start-kafka) kafka_start ;;
  stop-kafka) kafka_stop TERM 30 ;;
  kill-kafka) kafka_stop KILL 5 ;;
  fetch) kafka_fetch ;;
  *) echo "usage: $0 start|stop|status|env|dir|start-pg|stop-pg|start-kafka|stop-kafka|kill-kafka|fetch" >&2; exit 2 ;;
esac
