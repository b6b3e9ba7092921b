"""Composition root: wire the relay's parts and run lease memberships until SIGTERM.

A membership is one member id with its own Kafka transactional id. It ends when the relay stops
(its leases are released for the others at once) or when it finds itself fenced: a partition
was taken over while it was paused or cut off. Then it fences its own transactional id (nothing
it still had open can commit), gives back what it holds and joins again as a new member.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from app.core.db import engine_from_settings
from app.core.service_http import service_registry, serving
from relay.forwarder import Forwarder
from relay.leases import LeaseLostError, LeaseManager, new_member, transactional_id
from relay.metrics import Health, RelayMetrics
from relay.publisher import KafkaPublisher, ProducerFencedError
from relay.purge import purge_forever
from relay.settings import RelaySettings
from relay.store import PostgresOutboxStore
from relay.waits import wait_any
from relay.wakeup import NotifyListener

log = structlog.get_logger(__name__)

HEALTH_BEAT_SECONDS = 1.0


async def serve(
    settings: RelaySettings, stop: asyncio.Event, *, registry: CollectorRegistry | None = None
) -> None:
    """Run until `stop` is set; then finish or abandon the batch and release the leases."""
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
    # Autocommit: every claim, mark and lease statement commits on its own, so a relay that is
    # paused between two of them holds no lock and no transaction anybody could wait on.
    engine = engine_from_settings(settings, autocommit=True)
    publisher = KafkaPublisher(settings, transactional_id=transactional_id(new_member()))
    # The gauges and the purge need no lease to be right.
    unfenced = PostgresOutboxStore(engine)
    wakeup = asyncio.Event()
    current: list[LeaseManager] = []
    background = [
        _task(_health_beat(health, current)),
        _task(NotifyListener(settings.libpq_conninfo, wakeup, backoff_max=5.0).run()),
        _task(
            metrics.refresh_backlog_forever(
                unfenced, interval=settings.relay_gauge_interval_seconds
            )
        ),
        _task(
            purge_forever(
                unfenced,
                retention_seconds=settings.relay_retention_seconds,
                batch_size=settings.relay_purge_batch_size,
                interval=settings.relay_purge_interval_seconds,
            )
        ),
    ]
    log.info("relay started", partitions=settings.relay_partitions)
    try:
        while not stop.is_set():
            member = new_member()
            await publisher.use(transactional_id(member))
            cycle_lock = asyncio.Lock()
            leases = LeaseManager(
                engine,
                settings,
                member=member,
                fence=publisher.fence,
                cycle_lock=cycle_lock,
                may_release=lambda: publisher.settled,
                metrics=metrics,
                wakeup=wakeup,
            )
            current[:] = [leases]
            store = PostgresOutboxStore(engine, lease=leases.current)
            forwarder = Forwarder(
                store, publisher, settings, metrics=metrics, cycle_lock=cycle_lock
            )
            await _membership(
                forwarder=forwarder,
                leases=leases,
                publisher=publisher,
                settings=settings,
                wakeup=wakeup,
                stop=stop,
            )
    finally:
        await _cancel(*background)
        await publisher.stop()
        await engine.dispose()


async def _membership(
    *,
    forwarder: Forwarder,
    leases: LeaseManager,
    publisher: KafkaPublisher,
    settings: RelaySettings,
    wakeup: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    """One member's life: join, heartbeat and publish until stopped or fenced, then leave."""
    log.info("relay joining", member=leases.member)
    if not await _retry_until_stopped(leases.prepare, stop, settings):
        return
    heartbeat = _task(leases.run(stop))
    forwarding = _task(forwarder.run(wakeup=wakeup, stop=stop))
    stopping = _task(stop.wait())
    fenced = False
    try:
        await asyncio.wait({forwarding, heartbeat, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done() and not forwarding.done():
            grace = settings.relay_shutdown_grace_seconds
            await asyncio.wait({forwarding}, timeout=grace)
            if not forwarding.done():
                log.warning("shutdown grace over: abandoning the batch; its rows stay unpublished")
        for task in (heartbeat, forwarding):
            if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
                if isinstance(exc, LeaseLostError | ProducerFencedError):
                    fenced = True
                    kind = "producer" if isinstance(exc, ProducerFencedError) else "lease_lost"
                    forwarder.metrics.fenced.labels(kind=kind).inc()
                    log.error("fenced: another relay took over our partitions", error=str(exc))
                else:
                    log.error("relay task failed", error=str(exc), exc_info=exc)
    finally:
        await _cancel(forwarding, heartbeat, stopping)
    await _leave(leases, publisher, fenced=fenced)


async def _leave(leases: LeaseManager, publisher: KafkaPublisher, *, fenced: bool) -> None:
    # Give the partitions back only once nothing we sent can still commit: either every
    # transaction ended, or our own transactional id is fenced (which aborts what is open).
    await publisher.stop()
    safe = publisher.settled and not fenced
    if not safe:
        try:
            await publisher.fence(publisher.transactional_id)
            safe = True
        except Exception as exc:  # Kafka down: our leases expire, the next owner fences us
            log.warning("could not fence our own producer; leases left to expire", error=str(exc))
    if not safe:
        return
    try:
        await leases.leave()
    except Exception as exc:  # the database is down: the leases simply expire
        log.warning("could not release the leases; they expire instead", error=str(exc))


async def _retry_until_stopped(
    step: Callable[[], Awaitable[None]], stop: asyncio.Event, settings: RelaySettings
) -> bool:
    delay = settings.relay_backoff_initial_seconds
    while not stop.is_set():
        try:
            await step()
            return True
        except Exception as exc:
            log.warning("relay could not join yet", error=str(exc), retry_in=delay)
            await wait_any(stop, seconds=delay)
            delay = min(delay * 2, settings.relay_backoff_max_seconds)
    return False


async def _health_beat(health: Health, current: list[LeaseManager]) -> None:
    while True:
        owned = len(current[0].current().partitions) if current else 0
        health.beat("active" if owned else "standby", f"{owned} partitions")
        await asyncio.sleep(HEALTH_BEAT_SECONDS)


def _task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    return asyncio.ensure_future(coro)


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
