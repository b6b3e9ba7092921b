"""The real process: SIGTERM drains and commits; kill -9 mid-stream loses nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from mailer.settings import MailerSettings
from tests.integration.mailer.conftest import (
    committed_offsets,
    eventually,
    processed_count,
    publish,
)
from tests.support.digests import make_digest
from tests.support.mailer_process import spawn_mailer
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration


async def test_sigterm_finishes_in_flight_sends_commits_and_exits_zero(
    db: AsyncEngine,
    settings: MailerSettings,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
    tmp_path: Path,
) -> None:
    smtp.handler.delay = 0.5  # slow enough that sends are in flight when the signal lands
    for _ in range(80):
        await publish(producer, settings.kafka_topic, make_digest())
    health_port = free_port()
    child = spawn_mailer(
        settings,
        tmp_path / "mailer.log",
        MAILER_CONCURRENCY="8",
        MAILER_HEALTH_PORT=str(health_port),
    )
    try:
        await eventually(lambda: _healthy(health_port))
        await eventually(lambda: _received(smtp, 5))
        metrics = await _get(health_port, "/metrics")
        child.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(child.wait, 60)
    finally:
        _reap(child)

    assert code == 0, (tmp_path / "mailer.log").read_text()
    assert 'mailer_messages_total{outcome="sent"}' in metrics
    sent = len(smtp.handler.messages)
    assert sent < 80  # it stopped early rather than working through the backlog
    # Every send finished was recorded and committed: nothing is in the unavoidable window.
    assert await processed_count(db) == sent
    offsets = await committed_offsets(settings.kafka_bootstrap_servers, settings.mailer_group_id)
    assert sum(offsets.values()) == sent


@pytest.mark.fault
async def test_kill_9_mid_stream_then_restart_sends_every_digest_with_few_duplicates(
    db: AsyncEngine,
    settings: MailerSettings,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
    tmp_path: Path,
) -> None:
    total = 1000
    smtp.handler.delay = 0.005
    digests = [make_digest() for _ in range(total)]
    await asyncio.gather(*(publish(producer, settings.kafka_topic, d) for d in digests))
    log = tmp_path / "mailer.log"

    first = spawn_mailer(settings, log, MAILER_CONCURRENCY="32")
    try:
        await eventually(lambda: _received(smtp, 300), within=120)
        first.kill()
        await asyncio.to_thread(first.wait, 30)
    finally:
        _reap(first)
    second = spawn_mailer(settings, log, MAILER_CONCURRENCY="32")
    try:
        await eventually(lambda: _processed(db, total), within=180)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 60)
        _reap(second)

    counts = Counter(m["Message-ID"] for m in smtp.handler.messages)
    assert set(counts) == {f"<{d.event_id}@eventful-todo>" for d in digests}
    duplicates = sum(counts.values()) - total
    print(f"kill -9 after >=300 of {total}: {duplicates} duplicate email(s)")
    # Only a send between the SMTP 250 and the claim's commit can repeat: at most one per slot.
    assert duplicates <= 32


async def _get(port: int, path: str) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}{path}")).text


async def _healthy(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/healthz")
    except httpx.TransportError:
        return False
    return response.status_code == 200


async def _received(smtp: SmtpSink, n: int) -> bool:
    return len(smtp.handler.messages) >= n


async def _processed(db: AsyncEngine, n: int) -> bool:
    return await processed_count(db) >= n


def _reap(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
        child.wait(10)
