"""The benchmark's peer relay: Debezium's PostgreSQL connector with its Outbox Event Router.

Kafka Connect standalone (the broker's Kafka version) and Debezium are resolved from Maven
Central once, the way `scripts/services.sh` fetches Kafka (`compose/debezium/pom.xml`, Maven's
strict checksums, cached under ~/.cache), and run with `java`: pgoutput, reading the product's
`outbox` table unchanged into the same broker. Only the bench uses it; the product never ships it.
`bench/peers.py` measures it beside our relay.

The connector configuration (`connector_config`) is the one a team already running Kafka Connect
would deploy instead of our relay: docs/bench.md explains it and what it gives up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import make_url

from tests.support import ROOT
from tests.support.ports import free_port

POM = ROOT / "compose" / "debezium" / "pom.xml"
KAFKA_POM = ROOT / "compose" / "kafka" / "pom.xml"
#: The heap and collector of Kafka's own `connect-standalone.sh` / `kafka-run-class.sh`.
JVM_OPTIONS = (
    "-Xms256M",
    "-Xmx2G",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)
CONNECTOR = "outbox"
#: Debezium's default `poll.interval.ms`, and the tuned value of the benchmark.
DEFAULT_POLL_MS = 500
TUNED_POLL_MS = 10


def _pom_property(pom: Path, name: str) -> str:
    found = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom.read_text())
    if found is None:
        msg = f"{pom} has no <{name}>"
        raise RuntimeError(msg)
    return found.group(1)


def versions() -> dict[str, str]:
    """Kafka Connect's version (the broker's) and Debezium's, as the poms pin them."""
    return {
        "kafka": _pom_property(KAFKA_POM, "kafka.version"),
        "debezium": _pom_property(POM, "debezium.version"),
    }


def classpath() -> Path:
    """The folder of Connect's and Debezium's jars; fetched with Maven on first use, then cached."""
    v = versions()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "eventful-todo"
    libs = Path(
        os.environ.get("DEBEZIUM_LIBS", cache / f"debezium-{v['debezium']}-connect-{v['kafka']}")
    )
    stamp = libs / ".complete"
    if stamp.exists():
        return libs
    if shutil.which("mvn") is None:
        msg = "the Debezium peer needs Maven (apt-get install maven) to fetch its jars"
        raise SystemExit(msg)
    print(f"debezium: fetching Kafka Connect {v['kafka']} and Debezium {v['debezium']} into {libs}")
    # --strict-checksums: a jar whose checksum does not match Maven Central's fails the fetch.
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-Dstyle.color=never",
            "--strict-checksums",
            "-f",
            str(POM),
            f"-Dkafka.version={v['kafka']}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        check=True,
    )
    stamp.write_text(json.dumps(v) + "\n")  # only a complete fetch is reused
    return libs


def connector_config(
    database_url: str, *, slot: str, publication: str, poll_ms: int = DEFAULT_POLL_MS
) -> dict[str, str]:
    """Debezium's PostgreSQL connector reading `outbox` through the Outbox Event Router.

    Each row becomes one record on the topic its `topic` column names, keyed by `key`, its value
    the stored JSON (`payload`) and its type and id as headers, as our relay writes them.
    """
    url = make_url(database_url)
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": url.host or "127.0.0.1",
        "database.port": str(url.port or 5432),
        "database.user": url.username or "postgres",
        "database.password": url.password or "",
        "database.dbname": url.database or "postgres",
        "topic.prefix": "peer",
        "plugin.name": "pgoutput",
        "slot.name": slot,
        "publication.name": publication,
        # The slot and publication exist before the rows (see `prepare_database`): the backlog
        # is read from the WAL, as after an outage, not by a snapshot of the table.
        "publication.autocreate.mode": "disabled",
        "snapshot.mode": "no_data",
        "table.include.list": "public.outbox",
        # Only inserts are events: our relay's marks (UPDATE) and purges (DELETE) are not.
        "skipped.operations": "u,d,t",
        "tombstones.on.delete": "false",
        "poll.interval.ms": str(poll_ms),
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "transforms": "outbox",
        "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
        "transforms.outbox.table.field.event.id": "event_id",
        "transforms.outbox.table.field.event.key": "key",
        "transforms.outbox.table.field.event.payload": "payload",
        "transforms.outbox.route.by.field": "topic",
        "transforms.outbox.route.topic.replacement": "${routedByValue}",
        # The headers our consumers read (the router itself adds the event id as `id`).
        "transforms.outbox.table.fields.additional.placement": (
            "type:header:event_type,event_id:header:event_id"
        ),
    }


def prepare_database(database_url: str, *, slot: str, publication: str) -> None:
    """Create the publication of `outbox` and a pgoutput slot, so later rows stay in the WAL."""
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        conn.execute(f"CREATE PUBLICATION {publication} FOR TABLE outbox")
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))


def drop_slot(database_url: str, slot: str) -> None:
    """Drop the slot (a slot left behind keeps WAL forever); waits for its walsender to go."""
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        for _ in range(100):
            active = conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            if active is None:
                return
            if not active[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return
            time.sleep(0.1)


def _libpq(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Connect:
    """One Kafka Connect standalone worker running the outbox connector."""

    proc: subprocess.Popen[bytes]
    rest: str
    started_at: float
    log: Path
    ready_after_s: float = 0.0
    config: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status(self) -> dict[str, Any]:
        reply = httpx.get(f"{self.rest}/connectors/{CONNECTOR}/status", timeout=5)
        reply.raise_for_status()
        status: dict[str, Any] = reply.json()
        return status

    def running(self) -> bool:
        """The connector and its one task are RUNNING."""
        with suppress(httpx.HTTPError):
            s = self.status()
            return s["connector"]["state"] == "RUNNING" and any(
                t["state"] == "RUNNING" for t in s["tasks"]
            )
        return False

    def wait_running(self, timeout: float = 120) -> float:
        """Seconds until the connector's task runs; raises with the log's tail if it fails."""
        start = time.monotonic()
        while not self.running():
            if self.proc.poll() is not None or time.monotonic() - start > timeout:
                tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
                msg = f"Kafka Connect did not run the connector:\n{tail}"
                raise RuntimeError(msg)
            time.sleep(0.05)
        return time.monotonic() - start

    def reconfigure(self, **changes: str) -> None:
        """Change the connector's settings; Connect restarts its task in the same JVM."""
        self.config |= changes
        url = f"{self.rest}/connectors/{CONNECTOR}/config"
        httpx.put(url, json=self.config, timeout=30).raise_for_status()
        time.sleep(1)  # the old task stops asynchronously; then wait for the new one
        self.wait_running()


@contextmanager
def connect(
    config: dict[str, str], *, kafka_servers: str, work_dir: Path, libs: Path | None = None
) -> Iterator[Connect]:
    """Start a standalone worker with the connector; yield once its task runs; stop it after."""
    libs = libs or classpath()
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    worker = {
        "bootstrap.servers": kafka_servers,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "offset.storage.file.filename": str(work_dir / "offsets"),
        "offset.flush.interval.ms": "1000",
        "listeners": f"http://127.0.0.1:{port}",
        # The jars are on the classpath; their service manifests name the plugins, so no scan.
        "plugin.discovery": "service_load",
    }
    (work_dir / "worker.properties").write_text(_properties(worker))
    (work_dir / "connector.json").write_text(json.dumps({"name": CONNECTOR, "config": config}))
    (work_dir / "log4j2.properties").write_text(_LOG4J)
    log = work_dir / "connect.log"
    argv = [
        "java",
        *JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={work_dir / 'log4j2.properties'}",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.connect.cli.ConnectStandalone",
        str(work_dir / "worker.properties"),
        str(work_dir / "connector.json"),
    ]
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    worker_ = Connect(proc, f"http://127.0.0.1:{port}", started, log, config=dict(config))
    try:
        worker_.ready_after_s = worker_.wait_running()
        yield worker_
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


# Properties, not YAML: Connect's classpath has no YAML parser for log4j2.
_LOG4J = """\
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
logger.debezium.name = io.debezium.connector.postgresql
logger.debezium.level = INFO
"""
