"""Composition root: wire the relay's parts and run standby -> leader terms until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import make_engine, make_session_factory
from relay import metrics
from relay.forwarder import Forwarder, LeadershipLostError
from relay.leadership import Leadership
from relay.publisher import KafkaPublisher
from relay.purge import purge_forever
from relay.settings import RelaySettings
from relay.wakeup import NotifyListener

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 1.0


async def serve(settings: RelaySettings, stop: asyncio.Event) -> None:
    """Run until `stop` is set; then finish or abandon the batch and release the lock."""
    engine = make_engine(settings.sqlalchemy_url, pool_size=3, max_overflow=2)
    session_factory = make_session_factory(engine)
    health = metrics.Health(stale_after=30.0)
    server = None
    if settings.relay_metrics_port:
        server = metrics.serve_http(
            health, host=settings.relay_metrics_host, port=settings.relay_metrics_port
        )
    publisher = KafkaPublisher(settings)
    leadership = Leadership(
        settings.libpq_conninfo,
        key=settings.relay_lock_key,
        poll_interval=settings.relay_leader_poll_seconds,
    )
    wakeup = asyncio.Event()
    background = [
        _task(_heartbeat(health, leadership)),
        _task(NotifyListener(settings.libpq_conninfo, wakeup, backoff_max=5.0).run()),
        _task(
            metrics.refresh_backlog_forever(
                session_factory, interval=settings.relay_gauge_interval_seconds
            )
        ),
    ]
    forwarder = Forwarder(session_factory, publisher, settings, fence=leadership.verify)
    log.info("relay started", lock_key=settings.relay_lock_key)
    try:
        while await leadership.acquire(stop):
            metrics.IS_LEADER.set(1)
            await _lead(
                forwarder=forwarder,
                leadership=leadership,
                session_factory=session_factory,
                settings=settings,
                wakeup=wakeup,
                stop=stop,
            )
            metrics.IS_LEADER.set(0)
            await leadership.release()
    finally:
        metrics.IS_LEADER.set(0)
        await _cancel(*background)
        await leadership.release()
        await publisher.stop()
        await engine.dispose()
        if server is not None:
            server.shutdown()
        log.info("relay stopped")


async def _lead(
    *,
    forwarder: Forwarder,
    leadership: Leadership,
    session_factory: async_sessionmaker[AsyncSession],
    settings: RelaySettings,
    wakeup: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    """One term as leader: publish until stopped or the lock is lost."""
    forwarding = _task(forwarder.run(wakeup=wakeup, stop=stop))
    watching = _task(leadership.watch())
    stopping = _task(stop.wait())
    purging = _task(
        purge_forever(
            session_factory,
            retention_seconds=settings.relay_retention_seconds,
            batch_size=settings.relay_purge_batch_size,
            interval=settings.relay_purge_interval_seconds,
        )
    )
    try:
        await asyncio.wait({forwarding, watching, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if watching.done():
            forwarding.cancel()  # the lock is gone: another relay may already publish
        elif stopping.done() and not forwarding.done():
            grace = settings.relay_shutdown_grace_seconds
            await asyncio.wait({forwarding}, timeout=grace)
            if not forwarding.done():
                log.warning("shutdown grace over: abandoning the batch; its rows stay unpublished")
        if forwarding.done() and not forwarding.cancelled():
            exc = forwarding.exception()
            if isinstance(exc, LeadershipLostError):
                log.error("relay lock no longer held: stepping down")
            elif exc is not None:
                log.error("forwarder failed", error=str(exc), exc_info=exc)
    finally:
        await _cancel(forwarding, watching, stopping, purging)


async def _heartbeat(health: metrics.Health, leadership: Leadership) -> None:
    while True:
        health.beat("leader" if leadership.backend_pid is not None else "standby")
        await asyncio.sleep(HEARTBEAT_SECONDS)


def _task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    return asyncio.ensure_future(coro)


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
