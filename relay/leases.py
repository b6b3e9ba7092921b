"""Partition leases: which relay may publish which outbox partitions, timed by the database clock.

Every running relay is a *member* (one row in `relay_members`, renewed by heartbeat) and owns a
fair share of the `RELAY_PARTITIONS` rows of `relay_leases`. A partition changes hands in one of
two ways only: its owner releases it between two publish cycles (a relay joined and the share
shrank, or the owner stops), or its lease expired because the owner stopped renewing (killed,
paused, cut off). In the second case the taker first fences the old owner's Kafka transactional
id, which aborts whatever the old owner still had open and refuses anything it sends later; only
then does the taker claim the partition's rows. `epoch` grows with every change of owner: the
claim and the mark check (member, partition, epoch) and an unexpired lease in the same statement.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from relay.metrics import RelayMetrics
from relay.settings import SLOTS, RelaySettings

log = structlog.get_logger(__name__)

TRANSACTIONAL_ID_PREFIX = "outbox-relay."

COUNT_LEASES = text(
    "SELECT count(*) AS rows, count(*) FILTER (WHERE owner IS NOT NULL) AS owned,"
    " count(*) FILTER (WHERE expires_at > now()) AS live FROM relay_leases"
)
OWNERS = text("SELECT DISTINCT owner FROM relay_leases WHERE owner IS NOT NULL")
RESIZE = (
    text("LOCK TABLE relay_leases IN EXCLUSIVE MODE"),
    text("DELETE FROM relay_leases"),
    text("INSERT INTO relay_leases (partition) SELECT generate_series(0, :n - 1)"),
)
REGISTER = text(
    """
    INSERT INTO relay_members (member, expires_at)
    VALUES (:member, now() + make_interval(secs => :lease))
    ON CONFLICT (member) DO UPDATE SET expires_at = EXCLUDED.expires_at
    """
)
# Renewed even when just expired: nobody took it meanwhile, so nobody else published it.
RENEW = text(
    """
    UPDATE relay_leases SET expires_at = now() + make_interval(secs => :lease)
    WHERE owner = :member
    RETURNING partition, epoch
    """
)
LIVE_MEMBERS = text(
    'SELECT member FROM relay_members WHERE expires_at > now() ORDER BY member COLLATE "C"'
)
TAKE = text(
    """
    UPDATE relay_leases l
    SET owner = :member, epoch = l.epoch + 1, changed_at = now(),
        expires_at = now() + make_interval(secs => :lease)
    FROM (SELECT partition, owner AS previous FROM relay_leases
          WHERE owner IS NULL OR expires_at <= now()
          ORDER BY partition LIMIT :want FOR UPDATE SKIP LOCKED) free
    WHERE l.partition = free.partition
    RETURNING l.partition, l.epoch, free.previous
    """
)
RELEASE = text(
    """
    UPDATE relay_leases SET owner = NULL, expires_at = NULL, changed_at = now()
    WHERE owner = :member AND partition = ANY(CAST(:partitions AS smallint[]))
    """
)
RELEASE_ALL = text(
    "UPDATE relay_leases SET owner = NULL, expires_at = NULL, changed_at = now()"
    " WHERE owner = :member"
)
LEAVE = text("DELETE FROM relay_members WHERE member = :member")
FORGET_GONE = text("DELETE FROM relay_members WHERE expires_at < now() - interval '1 hour'")


class LeaseLostError(Exception):
    """Another relay owns a partition this one believed it owned: start over as a new member."""


class LeaseExpiredError(Exception):
    """A claim or mark found the lease not (or no longer) valid; the heartbeat will tell more."""


@dataclass(frozen=True, slots=True)
class Lease:
    """What one relay may publish now: partitions with their epochs, and the slots they cover."""

    member: str
    partitions: tuple[int, ...]
    epochs: tuple[int, ...]
    slots: tuple[int, ...]


def new_member() -> str:
    """A member id unique to this process and incarnation, readable in `relay status`."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def transactional_id(member: str) -> str:
    """The Kafka transactional id of one member: fencing it fences that member."""
    return TRANSACTIONAL_ID_PREFIX + member


def slots_of(partitions: Sequence[int], count: int) -> tuple[int, ...]:
    """Every `outbox.slot` that belongs to one of `partitions` (slot modulo the count)."""
    owned = set(partitions)
    return tuple(s for s in range(SLOTS) if s % count in owned)


def fair_share(members: Sequence[str], member: str, partitions: int) -> int:
    """How many partitions `member` should own: an equal split, the first ones one more."""
    if member not in members:
        return 0
    index, count = members.index(member), len(members)
    return partitions // count + (1 if index < partitions % count else 0)


#: Fences a Kafka transactional id (aborts its open transaction, refuses its later sends).
type Fencer = Callable[[str], Awaitable[None]]


class LeaseManager:
    """Join, renew, rebalance and leave; the forwarder reads `current()` before every claim."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: RelaySettings,
        *,
        member: str,
        fence: Fencer,
        cycle_lock: asyncio.Lock,
        may_release: Callable[[], bool],
        metrics: RelayMetrics,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self.member = member
        self._fence = fence
        self._cycle_lock = cycle_lock
        self._may_release = may_release
        self._metrics = metrics
        self._wakeup = wakeup
        self._owned: dict[int, int] = {}  # partition -> epoch, claimable
        self._unfenced: dict[int, tuple[int, str]] = {}  # taken, previous owner not fenced yet
        self._lease = self._snapshot()
        self.beat = asyncio.Event()  # set to heartbeat early (a claim found its lease expired)

    def current(self) -> Lease:
        """The lease to claim with now."""
        return self._lease

    def _snapshot(self) -> Lease:
        partitions = tuple(sorted(self._owned))
        return Lease(
            member=self.member,
            partitions=partitions,
            epochs=tuple(self._owned[p] for p in partitions),
            slots=slots_of(partitions, self._settings.relay_partitions),
        )

    def _publish(self) -> None:
        gained = not set(self._owned) <= set(self._lease.partitions)
        self._lease = self._snapshot()
        self._metrics.partitions_owned.set(len(self._owned))
        if gained and self._wakeup is not None:
            self._wakeup.set()  # claim the new partitions now, not at the next poll

    async def prepare(self) -> None:
        """Lay out RELAY_PARTITIONS lease rows; refuse to change them under live relays."""
        n = self._settings.relay_partitions
        async with self._engine.connect() as conn:
            counts = (await conn.execute(COUNT_LEASES)).one()
            if counts.rows == n:
                return
            if counts.live:
                msg = (
                    f"RELAY_PARTITIONS={n}, but running relays share {counts.rows} partitions:"
                    " stop them all before changing the number"
                )
                raise RuntimeError(msg)
            owners = (await conn.execute(OWNERS)).scalars().all()
        for owner in owners:  # a new layout must not let an old owner's open transaction commit
            await self._fence(transactional_id(owner))
        async with self._engine.connect() as autocommit:
            conn = await autocommit.execution_options(isolation_level="READ COMMITTED")
            async with conn.begin():
                for statement in RESIZE:
                    await conn.execute(statement, {"n": n})
        log.info("relay partitions laid out", partitions=n)

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat until stop; raises LeaseLostError when a partition was taken from us."""
        while not stop.is_set():
            try:
                await self.heartbeat()
            except LeaseLostError:
                raise
            except Exception as exc:  # the database may be down: keep trying, leases run out
                log.warning("relay heartbeat failed", error=str(exc))
            self.beat.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (stop, self.beat)]
            try:
                await asyncio.wait(
                    waits,
                    timeout=self._settings.relay_heartbeat_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for w in waits:
                    w.cancel()

    async def heartbeat(self) -> None:
        """Renew our leases, then release or take partitions towards our fair share."""
        s = self._settings
        params = {"member": self.member, "lease": s.relay_lease_seconds}
        # One autocommit statement each (the engine's): nothing waits on a paused relay's locks.
        async with self._engine.connect() as conn:
            await conn.execute(REGISTER, params)
            renewed = {r.partition: r.epoch for r in await conn.execute(RENEW, params)}
            members = list((await conn.execute(LIVE_MEMBERS)).scalars().all())
            await conn.execute(FORGET_GONE)
        believed = self._owned | {p: e for p, (e, _) in self._unfenced.items()}
        lost = sorted(p for p, epoch in believed.items() if renewed.get(p) != epoch)
        if lost:
            self._metrics.lease_changes.labels(kind="lost").inc(len(lost))
            self._owned.clear()
            self._unfenced.clear()
            self._publish()
            msg = f"partitions {lost} were taken over by another relay"
            raise LeaseLostError(msg)
        target = fair_share(members, self.member, s.relay_partitions)
        held = len(renewed)
        if held > target:
            await self._release(sorted(self._owned, reverse=True)[: held - target])
        elif held < target:
            await self._take(target - held)
        await self._fence_previous_owners()

    async def _take(self, want: int) -> None:
        params = {"member": self.member, "lease": self._settings.relay_lease_seconds, "want": want}
        async with self._engine.connect() as conn:
            taken = (await conn.execute(TAKE, params)).all()
        for row in taken:
            if row.previous is None or row.previous == self.member:
                self._owned[row.partition] = row.epoch
            else:
                self._unfenced[row.partition] = (row.epoch, row.previous)
        if taken:
            self._metrics.lease_changes.labels(kind="taken").inc(len(taken))
            log.info(
                "partitions taken",
                partitions=[r.partition for r in taken],
                from_expired=sorted({r.previous for r in taken if r.previous}),
            )
            self._publish()

    async def _fence_previous_owners(self) -> None:
        # A partition becomes claimable only once its old owner can commit nothing more.
        for previous in sorted({owner for _, owner in self._unfenced.values()}):
            try:
                await self._fence(transactional_id(previous))
            except Exception as exc:  # Kafka down: keep the partitions, claim them later
                log.warning("fencing the previous owner failed", previous=previous, error=str(exc))
                continue
            self._metrics.fenced.labels(kind="previous_owner").inc()
            for partition, (epoch, owner) in list(self._unfenced.items()):
                if owner == previous:
                    del self._unfenced[partition]
                    self._owned[partition] = epoch
            log.info("previous owner fenced", previous=previous)
            self._publish()

    async def _release(self, partitions: Sequence[int]) -> None:
        # Between two cycles only, and only with no Kafka transaction in doubt: what the next
        # owner publishes must come after everything we sent for these partitions.
        async with self._cycle_lock:
            if not self._may_release():
                return
            for p in partitions:
                self._owned.pop(p, None)
            self._publish()
            async with self._engine.connect() as conn:
                await conn.execute(RELEASE, {"member": self.member, "partitions": list(partitions)})
        self._metrics.lease_changes.labels(kind="released").inc(len(partitions))
        log.info("partitions released for rebalancing", partitions=list(partitions))

    async def leave(self) -> None:
        """Release every lease and the membership (after the last cycle, nothing in doubt)."""
        self._owned.clear()
        self._unfenced.clear()
        self._publish()
        async with self._engine.connect() as conn:
            await conn.execute(RELEASE_ALL, {"member": self.member})
            await conn.execute(LEAVE, {"member": self.member})
        log.info("relay left: all partitions released", member=self.member)
