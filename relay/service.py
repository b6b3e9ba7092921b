"""Composition root: wire the relay's parts and run standby -> leader terms until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from app.core.db import engine_from_settings, make_session_factory
from app.core.service_http import service_registry, serving
from relay.forwarder import Forwarder
from relay.leadership import Leadership, LeadershipLostError
from relay.metrics import Health, RelayMetrics
from relay.publisher import KafkaPublisher
from relay.purge import purge_forever
from relay.settings import RelaySettings
from relay.store import OutboxStore, PostgresOutboxStore
from relay.wakeup import NotifyListener

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 1.0


async def serve(
    settings: RelaySettings, stop: asyncio.Event, *, registry: CollectorRegistry | None = None
) -> None:
    """Run until `stop` is set; then finish or abandon the batch and release the lock."""
    metrics = RelayMetrics(registry or service_registry())
    health = Health(stale_after=30.0)
    async with serving(
        host=settings.relay_metrics_host,
        port=settings.relay_metrics_port,
        registry=metrics.registry,
        health=health.report,
    ):
        await _serve(settings, stop, metrics=metrics, health=health)
    log.info("relay stopped")


async def _serve(
    settings: RelaySettings, stop: asyncio.Event, *, metrics: RelayMetrics, health: Health
) -> None:
    engine = engine_from_settings(settings)
    publisher = KafkaPublisher(settings)
    leadership = Leadership(
        settings.libpq_conninfo,
        key=settings.relay_lock_key,
        poll_interval=settings.relay_leader_poll_seconds,
    )
    session_factory = make_session_factory(engine)
    # Claims are fenced by the lock; the gauges and the purge need no lock to be right.
    store = PostgresOutboxStore(session_factory, fence=leadership.verify)
    unfenced = PostgresOutboxStore(session_factory)
    wakeup = asyncio.Event()
    background = [
        _task(_heartbeat(health, leadership)),
        _task(NotifyListener(settings.libpq_conninfo, wakeup, backoff_max=5.0).run()),
        _task(
            metrics.refresh_backlog_forever(
                unfenced, interval=settings.relay_gauge_interval_seconds
            )
        ),
    ]
    forwarder = Forwarder(store, publisher, settings, metrics=metrics)
    log.info("relay started", lock_key=settings.relay_lock_key)
    try:
        while await leadership.acquire(stop):
            metrics.is_leader.set(1)
            await _lead(
                forwarder=forwarder,
                leadership=leadership,
                store=unfenced,
                settings=settings,
                wakeup=wakeup,
                stop=stop,
            )
            metrics.is_leader.set(0)
            await leadership.release()
    finally:
        metrics.is_leader.set(0)
        await _cancel(*background)
        await leadership.release()
        await publisher.stop()
        await engine.dispose()


async def _lead(
    *,
    forwarder: Forwarder,
    leadership: Leadership,
    store: OutboxStore,
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
            store,
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


async def _heartbeat(health: Health, leadership: Leadership) -> None:
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
