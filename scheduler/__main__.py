"""`python -m scheduler` runs the daemon; `run-once [--date D | --at INSTANT]` writes now."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import utcnow
from app.core.db import engine_from_settings, make_session_factory
from app.core.logging import configure_logging
from app.core.process import run_until_signalled
from app.core.tracing import configure_tracing
from scheduler.daemon import serve
from scheduler.digest import DigestResult, DueResult, run_digest, run_due_digests
from scheduler.due import Window
from scheduler.health import is_alive
from scheduler.jobs import digest_day, digest_options
from scheduler.settings import SchedulerSettings


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    once = commands.add_parser("run-once", help="write digests now and exit")
    when = once.add_mutually_exclusive_group()
    when.add_argument(
        "--date",
        type=date.fromisoformat,
        help="day D for every user who wants a digest, whatever their zone "
        "(default: yesterday in DIGEST_TIMEZONE)",
    )
    when.add_argument(
        "--at",
        type=_instant,
        metavar="INSTANT",
        help="what the daemon writes at this ISO 8601 instant, e.g. 2026-12-01T15:00:00Z: the "
        "users whose local midnight passed in the DIGEST_GRACE_SECONDS before it",
    )
    commands.add_parser("healthcheck", help="exit 0 while the daemon's heartbeat is fresh")
    return parser.parse_args(argv)


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        msg = f"{value!r} has no UTC offset: write e.g. 2026-12-01T15:00:00Z"
        raise argparse.ArgumentTypeError(msg)
    return moment.astimezone(UTC)


@asynccontextmanager
async def _sessions(settings: SchedulerSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions of an engine that lives as long as one command."""
    engine = engine_from_settings(settings)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


async def run_once(settings: SchedulerSettings, day: date | None) -> DigestResult:
    """One digest run for `day`, outside the schedule (operators, tests, demos)."""
    day = day or digest_day(utcnow(), settings.zone)
    async with _sessions(settings) as sessions:
        return await run_digest(session_factory=sessions, day=day, options=digest_options(settings))


async def run_once_at(settings: SchedulerSettings, at: datetime) -> DueResult:
    """The tick the daemon would run at `at`, looking back the grace period."""
    window = Window.before(at, timedelta(seconds=settings.digest_grace_seconds))
    async with _sessions(settings) as sessions:
        return await run_due_digests(
            session_factory=sessions, window=window, options=digest_options(settings)
        )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    settings = SchedulerSettings()
    if args.command == "healthcheck":
        return (
            0
            if is_alive(
                path=settings.scheduler_heartbeat_file,
                interval_seconds=settings.scheduler_heartbeat_seconds,
            )
            else 1
        )
    configure_logging(settings, service="scheduler")
    configure_tracing(settings, service="scheduler")
    if args.command == "run-once" and args.at is not None:
        due = asyncio.run(run_once_at(settings, args.at))
        print(
            f"at={due.window.until.isoformat()} since={due.window.since.isoformat()} "
            f"zones={due.zones} users={due.users} enqueued={due.enqueued} existing={due.existing}"
        )
        return 0
    if args.command == "run-once":
        result = asyncio.run(run_once(settings, args.date))
        print(f"day={result.day.isoformat()} enqueued={result.enqueued} existing={result.existing}")
        return 0
    run_until_signalled(partial(serve, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
