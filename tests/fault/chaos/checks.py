"""What every scenario ends with: wait for the system to catch up, then count what was lost.

The ground truth is PostgreSQL: every outbox row was committed, so every one must be on Kafka,
and every digest row must have produced exactly one email. Clients' errors during a fault are
not losses (nothing was committed for them); a 201 without its event on the topic would be.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from tests.fault.chaos.burst import BURST_DOMAIN
from tests.fault.chaos.load import LoadStats
from tests.support.kafka import topic_records
from tests.support.processes import Deployment, sync_url, wait_until

DIGEST = "email.daily_digest.requested"
SETTLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    events: int
    lost: int
    republished: int
    digests: int
    emails: int
    duplicate_emails: int
    missing_emails: int
    acknowledged_without_event: int
    requests_failed: int
    published_after_s: float
    mailed_after_s: float
    restarted: list[str]
    killed: list[str]
    unchanged_pids: bool
    all_healthy: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Outbox:
    """Reads of the scenario's outbox that tolerate PostgreSQL being down (they just say "no")."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_engine(sync_url(database_url), pool_pre_ping=True)

    def close(self) -> None:
        self.engine.dispose()

    def _scalar(self, sql: str, **params: object) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def high_water_mark(self, timeout: float = 60.0) -> int:
        """The newest committed outbox id, waiting for PostgreSQL if it is still coming back."""
        found: list[int] = []

        def read() -> bool:
            try:
                found.append(int(self._scalar("SELECT coalesce(max(id), 0) FROM outbox")))
            except OperationalError:
                return False
            return True

        wait_until(read, timeout=timeout, interval=0.2)
        return found[-1]

    def unpublished(self) -> int:
        try:
            return int(self._scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        except OperationalError:
            return 0

    def unpublished_burst(self) -> int:
        """Unpublished digests of the burst's day (see burst.py); 0 before it is written."""
        sql = (
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND type = :t"
            " AND payload->>'email' LIKE :d"
        )
        try:
            return int(self._scalar(sql, t=DIGEST, d=f"%@{BURST_DOMAIN}"))
        except OperationalError:
            return 0

    def published_up_to(self, mark: int) -> bool:
        """Every row up to `mark` is acknowledged by Kafka and marked published."""
        try:
            sql = "SELECT count(*) FROM outbox WHERE id <= :m AND published_at IS NULL"
            return int(self._scalar(sql, m=mark)) == 0
        except OperationalError:
            return False

    def mailed_up_to(self, mark: int, mailed: Counter[uuid.UUID]) -> bool:
        """Every digest up to `mark` has reached the SMTP server."""
        try:
            with self.engine.connect() as conn:
                digests = conn.execute(
                    text("SELECT event_id FROM outbox WHERE id <= :m AND type = :t"),
                    {"m": mark, "t": DIGEST},
                ).scalars()
                return all(d in mailed for d in digests)
        except OperationalError:
            return False

    def caught_up(self, mark: int, mailed: Counter[uuid.UUID]) -> bool:
        return self.published_up_to(mark) and self.mailed_up_to(mark, mailed)

    def events(self) -> dict[uuid.UUID, tuple[str, str, dict[str, Any]]]:
        """event id -> (type, topic, payload) for every committed event."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT event_id, type, topic, payload FROM outbox")).all()
        return {r.event_id: (r.type, r.topic, r.payload) for r in rows}


@dataclass(frozen=True)
class Recovery:
    """Seconds from the end of a fault until the backlog of that moment was on Kafka / mailed."""

    published_s: float
    mailed_s: float


def measure_recovery(deployment: Deployment, outbox: Outbox) -> Recovery:
    started = time.monotonic()
    mark = outbox.high_water_mark()
    wait_until(lambda: outbox.published_up_to(mark), timeout=SETTLE_TIMEOUT_S, interval=0.1)
    published = time.monotonic() - started
    wait_until(
        lambda: outbox.mailed_up_to(mark, deployment.smtp.emails_per_event()),
        timeout=SETTLE_TIMEOUT_S,
        interval=0.1,
    )
    return Recovery(round(published, 1), round(time.monotonic() - started, 1))


def settle_and_count(
    *,
    scenario: str,
    deployment: Deployment,
    outbox: Outbox,
    stats: LoadStats,
    recovery: Recovery,
    restarted: list[str],
    killed: list[str],
    pids_before: dict[str, int],
    note: str = "",
) -> ScenarioResult:
    """After the load stopped: wait until everything committed is delivered, then count."""
    mark = outbox.high_water_mark()
    with suppress(TimeoutError):  # what did not arrive is counted below as lost or missing
        wait_until(
            lambda: outbox.caught_up(mark, deployment.smtp.emails_per_event()),
            timeout=SETTLE_TIMEOUT_S,
            interval=0.2,
        )
    committed = outbox.events()
    records = []
    for topic in sorted({topic for _, topic, _ in committed.values()}):
        records += asyncio.run(topic_records(deployment.kafka_servers, topic))
    on_topic = Counter(r["event_id"] for r in records)
    created_on_topic = {
        r["value"].get("task_id") for r in records if r["value"].get("type") == "task.created"
    }
    mailed = deployment.smtp.emails_per_event()
    digests = [e for e, (kind, _, _) in committed.items() if kind == DIGEST]
    pids_after = deployment.system.pids()
    kept = {n: p for n, p in pids_before.items() if n not in restarted and n not in killed}
    expected_alive = [n for n in pids_before if n not in killed]
    return ScenarioResult(
        scenario=scenario,
        events=len(committed),
        lost=len(set(committed) - set(on_topic)),
        republished=sum(n - 1 for n in on_topic.values()),
        digests=len(digests),
        emails=sum(mailed[d] for d in digests),
        duplicate_emails=sum(max(0, mailed[d] - 1) for d in digests),
        missing_emails=sum(1 for d in digests if mailed[d] == 0),
        acknowledged_without_event=len(stats.tasks_acknowledged - created_on_topic),
        requests_failed=stats.requests_failed,
        published_after_s=recovery.published_s,
        mailed_after_s=recovery.mailed_s,
        restarted=restarted,
        killed=killed,
        unchanged_pids=all(pids_after.get(n) == p for n, p in kept.items()),
        note=note,
        all_healthy=all(
            n in pids_after and deployment.service(n).healthy() for n in expected_alive
        ),
    )
