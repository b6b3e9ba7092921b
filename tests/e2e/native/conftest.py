"""The native run (`make dev` = scripts/dev.sh) as it is, started once for these tests.

Free ports, a database and a Kafka topic of this run's own, so it can run beside a developer's
`make dev` and other test sessions; stopped the way a developer stops it, with Ctrl-C (SIGINT to
the process group). PostgreSQL and Kafka are this test session's own (DATABASE_URL /
KAFKA_BOOTSTRAP_SERVERS, as for every other test), handed to dev.sh, which then starts and stops
none: they are still up when the teardown drops the run's database and topics. Without them the
tests skip with the reason (fail under CI=true).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.kafka import delete_topics
from tests.support.migrations import drop_database
from tests.support.ports import free_port, port_open
from tests.support.processes import Service, http_ok, wait_until

START_SECONDS = 120
STOP_SECONDS = 30


@dataclass(frozen=True)
class NativeRun:
    """What a developer sees of one `scripts/dev.sh`: URLs, the Maildir and the printed commands."""

    api_url: str  # through nginx
    maildir: Path
    env: dict[str, str]  # the environment dev.sh was started with
    scheduler_database_url: str  # as dev.sh prints it in its "digest now" line
    kafka_servers: str

    @property
    def topic(self) -> str:
        return self.env["KAFKA_TOPIC"]

    def digest_command(self, day: date) -> str:
        """The one-shot digest as dev.sh tells a developer to run it, with this interpreter."""
        return (
            f"DATABASE_URL={shlex.quote(self.scheduler_database_url)}"
            f" {shlex.quote(sys.executable)} -m scheduler run-once --date {day.isoformat()}"
        )

    def run_digest(self, day: date) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", self.digest_command(day)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def emails_to(self, address: str) -> list[EmailMessage]:
        """Every email in the SMTP sink's Maildir addressed to `address`."""
        found = []
        box = mailbox.Maildir(self.maildir, create=False)
        for key in box.iterkeys():
            with suppress(KeyError):  # a message may move from new/ to cur/ as we read
                raw = box.get_bytes(key)
                message = email.message_from_bytes(raw, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                if address in str(message["X-RcptTo"] or message["To"]):
                    found.append(message)
        return found


def _stop_like_ctrl_c(service: Service) -> None:
    """SIGINT to the whole group, as a terminal's Ctrl-C; wait until every process is gone."""
    assert service.proc is not None
    with suppress(ProcessLookupError):
        os.killpg(service.pid, signal.SIGINT)

    def group_gone() -> bool:
        assert service.proc is not None
        service.proc.poll()  # reap dev.sh itself: a zombie leader would keep the group alive
        try:
            os.killpg(service.pid, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        wait_until(group_gone, timeout=STOP_SECONDS, interval=0.2)
    finally:
        service.stop()  # SIGTERM, then SIGKILL to whatever is left: never leak processes


@pytest.fixture(scope="session")
def native(
    tmp_path_factory: pytest.TempPathFactory, admin_url: str, kafka_servers: str
) -> Iterator[NativeRun]:
    run_id = uuid.uuid4().hex[:10]
    dev_dir = tmp_path_factory.mktemp("native")
    ports = {name: free_port() for name in ("WEB", "API", "SMTP", "RELAY_METRICS", "MAILER_HEALTH")}
    env = dict(os.environ) | {f"DEV_{name}_PORT": str(port) for name, port in ports.items()}
    env |= {
        "DATABASE_URL": admin_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_servers,
        "DEV_DB": f"todo_native_{run_id}",
        "DEV_DIR": str(dev_dir),
        "PYTHONUNBUFFERED": "1",
        # dev.sh leaves these at the services' defaults (`events`, group `mailer`); a topic and
        # group of our own keep other runs on the shared broker out of our mailer and asserts.
        "KAFKA_TOPIC": f"events-native-{run_id}",
        "KAFKA_DLQ_TOPIC": f"events-native-{run_id}.dlq",
        "MAILER_GROUP_ID": f"mailer-native-{run_id}",
    }
    web = f"http://127.0.0.1:{ports['WEB']}"
    checks = [
        http_ok(f"{web}/api/readyz"),
        http_ok(f"http://127.0.0.1:{ports['RELAY_METRICS']}/healthz"),
        http_ok(f"http://127.0.0.1:{ports['MAILER_HEALTH']}/healthz"),
        port_open(ports["SMTP"]),
        (dev_dir / "scheduler.heartbeat").exists,
    ]
    dev = Service("dev", ["scripts/dev.sh"], env, dev_dir, health=lambda: all(c() for c in checks))
    dev.start()
    try:
        dev.wait_healthy(timeout=START_SECONDS)
        printed = re.search(
            r"digest now\s+DATABASE_URL=(\S+) \.venv/bin/python -m scheduler run-once",
            dev.log_path.read_text(),
        )
        assert printed, f"dev.sh printed no digest command:\n{dev.log_tail()}"
        yield NativeRun(
            api_url=f"{web}/api",
            maildir=dev_dir / "mail",
            env=env,
            scheduler_database_url=printed.group(1),
            kafka_servers=kafka_servers,
        )
    finally:
        try:
            _stop_like_ctrl_c(dev)
        finally:
            drop_database(admin_url, env["DEV_DB"])
            asyncio.run(delete_topics(kafka_servers, [env["KAFKA_TOPIC"], env["KAFKA_DLQ_TOPIC"]]))
