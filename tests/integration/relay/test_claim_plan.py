"""The claim's plan does not depend on ANALYZE. Statistics that say "all published" over a large
backlog (an outage) and statistics that say "all unpublished" over a drained one (an outage
just over) both still give a scan of the unpublished index in id order: never a sort of the
backlog, never a walk through the published rows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from relay.settings import SLOTS
from relay.store import CLAIM, CLAIM_ANY, int_array

pytestmark = pytest.mark.integration

BACKLOG = 100_000
FILL = text(
    """
    INSERT INTO outbox (event_id, topic, key, type, payload, occurred_at, published_at)
    SELECT gen_random_uuid(), 'events', 'user-' || (n % 5000), 'task.created', '{}', now(),
           CASE WHEN :published THEN now() END
    FROM generate_series(1, :n) AS n
    """
)


@pytest.fixture(params=["outage", "drained"])
async def stale_statistics(
    db: AsyncEngine, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncEngine]:
    """An outbox whose statistics lie, in one of the two states an outage leaves.

    - "outage": 100,000 unpublished rows; ANALYZE saw them all published.
    - "drained": ANALYZE saw a backlog of 100,000 unpublished rows; the relay has published
      them all since (and autovacuum has vacuumed), and 50 new ones wait.
    """
    drained = request.param == "drained"
    async with db.begin() as conn:
        # Autoanalyze would fix the statistics behind the test's back: the outage case is
        # exactly the time before it does.
        await conn.execute(text("ALTER TABLE outbox SET (autovacuum_enabled = false)"))
        await conn.execute(FILL, {"n": BACKLOG, "published": not drained})
    async with db.begin() as conn:
        await conn.execute(text("ANALYZE outbox"))
    async with db.begin() as conn:
        now = "now()" if drained else "NULL"
        await conn.execute(text(f"UPDATE outbox SET published_at = {now}"))  # noqa: S608
    if drained:
        async with db.connect() as conn:
            vacuum = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await vacuum.execute(text("VACUUM outbox"))
        async with db.begin() as conn:
            await conn.execute(FILL, {"n": 50, "published": False})
    try:
        yield db
    finally:
        async with db.begin() as conn:
            await conn.execute(text("ALTER TABLE outbox RESET (autovacuum_enabled)"))


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


async def explain(
    engine: AsyncEngine, statement: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        raw = (await conn.execute(text(f"EXPLAIN (FORMAT JSON) {statement}"), params)).scalar_one()
    document = raw if isinstance(raw, list) else json.loads(raw)
    return list(nodes(document[0]["Plan"]))


def assert_index_scan_without_sort(plan: list[dict[str, Any]]) -> None:
    on_outbox = [n for n in plan if n.get("Relation Name") == "outbox"]
    assert [n.get("Index Name") for n in on_outbox] == ["ix_outbox_unpublished"], plan
    assert not [n for n in plan if "Sort" in n["Node Type"]], plan


async def test_whatever_the_statistics_say_the_claim_reads_the_unpublished_index(
    stale_statistics: AsyncEngine, request: pytest.FixtureRequest
) -> None:
    async with stale_statistics.connect() as conn:
        estimate = (
            await conn.execute(
                text(
                    "SELECT null_frac FROM pg_stats WHERE tablename = 'outbox' "
                    "AND attname = 'published_at'"
                )
            )
        ).scalar_one()
    lie = {"outage": 0, "drained": 1}[request.node.callspec.params["stale_statistics"]]
    assert estimate == lie  # the statistics really are stale: no NULL seen, or nothing else

    excludings: list[range] = [range(0), range(1, 2001)]  # claimed ahead: two batches left out
    for excluding in excludings:
        params = {"batch": 1000, "excluding": int_array(excluding)}  # as the store sends them
        plan = await explain(stale_statistics, CLAIM_ANY.text, params)

        assert_index_scan_without_sort(plan)


@pytest.mark.parametrize("share", [1, 2, 4], ids=["one relay", "one of two", "one of four"])
@pytest.mark.parametrize("ahead", [False, True], ids=["first claim", "claimed ahead"])
async def test_the_claim_of_a_relay_owning_a_share_of_the_partitions_is_an_index_scan_too(
    stale_statistics: AsyncEngine, share: int, ahead: bool
) -> None:
    partitions = list(range(0, 32, share))
    params = {
        "batch": 1000,
        "excluding": int_array(range(1, 2001) if ahead else []),
        "member": "m",
        "partitions": int_array(partitions),
        "epochs": int_array([1] * len(partitions)),
        "slots": int_array(s for s in range(SLOTS) if s % 32 in set(partitions)),
    }

    plan = await explain(stale_statistics, CLAIM.text, params)

    assert_index_scan_without_sort(plan)
