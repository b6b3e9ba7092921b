"""`python -m scheduler` as operators run it: real processes, real PostgreSQL, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.events import DailyDigestRequested
from tests.integration.scheduler.conftest import ReadDigests
from tests.integration.scheduler.factories import create_users, zone_past_midnight
from tests.support import ROOT
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def scheduler_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "LOG_JSON": "true", **extra}


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def start(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scheduler",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> Finished:
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def run_command(env: dict[str, str], *args: str) -> Finished:
    return await finish(await start(env, *args))


async def poll(condition: Callable[[], Awaitable[bool]], *, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.1)


async def test_run_once_prints_what_it_enqueued_and_what_already_existed(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    read_digests: ReadDigests,
) -> None:
    await create_users(session_factory, 3, tasks=2)
    env = scheduler_env(database_url)

    first = await run_command(env, "run-once", "--date", "2026-01-01")
    again = await run_command(env, "run-once", "--date", "2026-01-01")

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "day=2026-01-01 enqueued=3 existing=0"
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "day=2026-01-01 enqueued=0 existing=3"
    assert len(await read_digests()) == 3


async def test_run_once_rejects_a_malformed_date(database_url: str) -> None:
    result = await run_command(scheduler_env(database_url), "run-once", "--date", "01/01/2026")

    assert result.returncode == 2
    assert "invalid fromisoformat value" in result.stderr


def _far_from(zone: str) -> str:
    """A zone twelve hours away, whose midnight is nowhere near."""
    offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
    hours = int(offset.total_seconds() // 3600)
    other = hours - 12 if hours >= 0 else hours + 12
    return "Etc/UTC" if other == 0 else f"Etc/GMT{-other:+d}"


async def test_daemon_catches_up_on_start_beats_and_stops_cleanly_on_sigterm(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    read_digests: ReadDigests,
    tmp_path: Path,
) -> None:
    zone, local_yesterday = zone_past_midnight(datetime.now(UTC))
    users = await create_users(session_factory, 2, timezone=zone)
    elsewhere = await create_users(session_factory, 1, timezone=_far_from(zone))
    beat = tmp_path / "heartbeat"
    env = scheduler_env(
        database_url,
        # The first tick looks back two hours, over the midnight `zone` has just had.
        DIGEST_GRACE_SECONDS="7200",
        SCHEDULER_HEARTBEAT_FILE=str(beat),
        SCHEDULER_HEARTBEAT_SECONDS="1",
    )
    daemon = await start(env)

    async def caught_up() -> bool:
        return len(await read_digests()) == 2 and beat.exists()

    try:
        await poll(caught_up)
        healthy = await run_command(env, "healthcheck")
    finally:
        daemon.send_signal(signal.SIGTERM)
        stopped = await finish(daemon)

    assert healthy.returncode == 0
    assert stopped.returncode == 0, stopped.stderr
    assert "scheduler stopped" in stopped.stderr
    assert not beat.exists()
    assert (await run_command(env, "healthcheck")).returncode == 1
    digests = await read_digests()
    assert {d.event.event_id for d in digests} == {
        DailyDigestRequested.id_for(user.id, local_yesterday) for user in users
    }
    assert elsewhere[0].id not in {d.event.user_id for d in digests}


async def test_daemon_serves_health_and_the_metrics_of_its_runs_when_given_a_port(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    await create_users(session_factory, 2)
    port = free_port()
    env = scheduler_env(
        database_url,
        DIGEST_CRON="* * * * *",
        DIGEST_GRACE_SECONDS="3600",
        SCHEDULER_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
        SCHEDULER_METRICS_PORT=str(port),
    )
    daemon = await start(env)
    metrics = ""

    async def counted_the_catch_up() -> bool:
        nonlocal metrics
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                metrics = (await client.get("/metrics")).text
        except httpx.HTTPError:
            return False
        return 'scheduler_digest_runs_total{outcome="ok"}' in metrics

    try:
        await poll(counted_the_catch_up)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
    finally:
        daemon.send_signal(signal.SIGTERM)
        stopped = await finish(daemon)

    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert "scheduler_digests_enqueued_total" in metrics
    assert "scheduler_last_digest_run_timestamp_seconds" in metrics
    assert "process_resident_memory_bytes" in metrics
    assert stopped.returncode == 0, stopped.stderr


async def test_sigterm_during_a_run_exits_cleanly_and_the_next_run_completes_it(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    read_digests: ReadDigests,
    tmp_path: Path,
) -> None:
    zone, local_yesterday = zone_past_midnight(datetime.now(UTC))
    await create_users(session_factory, 300, timezone=zone)
    env = scheduler_env(
        database_url,
        DIGEST_GRACE_SECONDS="7200",
        DIGEST_PAGE_SIZE="1",  # 300 transactions: slow enough to be stopped in the middle
        SCHEDULER_STOP_SECONDS="0.1",
        SCHEDULER_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
    )
    daemon = await start(env)

    async def started_writing() -> bool:
        return len(await read_digests()) > 0

    try:
        await poll(started_writing)
    finally:
        daemon.send_signal(signal.SIGTERM)
        stopped = await finish(daemon)
    written = len(await read_digests())
    day = local_yesterday.isoformat()
    rerun = await run_command(env, "run-once", "--date", day)

    assert stopped.returncode == 0, stopped.stderr
    assert "scheduler stopped" in stopped.stderr
    assert rerun.stdout.strip() == f"day={day} enqueued={300 - written} existing={written}"
    assert len(await read_digests()) == 300
