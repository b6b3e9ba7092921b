"""`python -m relay status`: which relay owns which partitions, and what waits in each."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy import text

from app.core.db import engine_from_settings
from relay.settings import RelaySettings

MEMBERS = text(
    """
    SELECT member, started_at, expires_at > now() AS alive,
           extract(epoch FROM expires_at - now()) AS expires_in
    FROM relay_members ORDER BY member
    """
)
# Counted over the partial index of unpublished rows, whatever the partition count.
PARTITIONS = text(
    """
    WITH layout AS (SELECT count(*) AS n FROM relay_leases),
    waiting AS (
        SELECT slot % (SELECT n FROM layout) AS partition, count(*) AS backlog,
               extract(epoch FROM now() - min(created_at)) AS oldest
        FROM outbox WHERE published_at IS NULL AND parked_at IS NULL
        GROUP BY 1)
    SELECT l.partition, l.owner, l.epoch, l.expires_at > now() AS live,
           coalesce(w.backlog, 0) AS backlog, coalesce(w.oldest, 0) AS oldest
    FROM relay_leases l LEFT JOIN waiting w USING (partition)
    ORDER BY l.partition
    """
)


async def gather(settings: RelaySettings) -> dict[str, Any]:
    """Members, and each partition's owner, epoch and backlog, as plain data."""
    engine = engine_from_settings(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            members = [dict(r._mapping) for r in await conn.execute(MEMBERS)]
            partitions = [dict(r._mapping) for r in await conn.execute(PARTITIONS)]
    finally:
        await engine.dispose()
    return {"members": members, "partitions": partitions}


def render(status: dict[str, Any]) -> str:
    """The status as a few aligned lines for a terminal."""
    owned: dict[str, list[int]] = defaultdict(list)
    backlog: dict[str, int] = defaultdict(int)
    for p in status["partitions"]:
        who = p["owner"] if p["live"] else "(nobody)"
        owned[who].append(p["partition"])
        backlog[who] += p["backlog"]
    lines = [f"{'member':<44}{'alive':>6}{'partitions':>11}{'backlog':>9}  owns"]
    names = [m["member"] for m in status["members"]] + ["(nobody)"]
    alive = {m["member"]: m["alive"] for m in status["members"]}
    for name in names:
        if name == "(nobody)" and not owned.get(name):
            continue
        parts = owned.get(name, [])
        lines.append(
            f"{name:<44}{'yes' if alive.get(name, False) else '-':>6}{len(parts):>11}"
            f"{backlog.get(name, 0):>9}  {_ranges(parts)}"
        )
    lines.append("")
    lines.append(f"{'partition':>9}  {'owner':<44}{'epoch':>7}{'backlog':>9}{'oldest s':>10}")
    for p in status["partitions"]:
        owner = p["owner"] if p["live"] else f"(expired: {p['owner']})" if p["owner"] else "-"
        lines.append(
            f"{p['partition']:>9}  {owner:<44}{p['epoch']:>7}{p['backlog']:>9}"
            f"{float(p['oldest']):>10.1f}"
        )
    return "\n".join(lines)


def _ranges(numbers: list[int]) -> str:
    spans: list[str] = []
    for n in sorted(numbers):
        if spans and spans[-1].split("-")[-1] == str(n - 1):
            spans[-1] = f"{spans[-1].split('-')[0]}-{n}"
        else:
            spans.append(str(n))
    return ",".join(spans)


def main(settings: RelaySettings) -> None:
    """Print the status once."""
    print(render(asyncio.run(gather(settings))))  # noqa: T201 - a command's output
