"""`python -m scheduler` runs the daemon; `run-once [--date YYYY-MM-DD]` runs one digest now."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, timedelta

from app.core.clock import utcnow
from app.core.db import make_engine, make_session_factory
from app.core.logging import configure_logging
from scheduler.daemon import serve
from scheduler.digest import DigestResult, run_digest
from scheduler.health import is_alive
from scheduler.jobs import digest_options
from scheduler.settings import SchedulerSettings


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    once = commands.add_parser("run-once", help="write the digests of one day and exit")
    once.add_argument(
        "--date",
        type=date.fromisoformat,
        help="the day to report on (default: yesterday in DIGEST_TIMEZONE)",
    )
    commands.add_parser("healthcheck", help="exit 0 while the daemon's heartbeat is fresh")
    return parser.parse_args(argv)


async def run_once(settings: SchedulerSettings, day: date | None) -> DigestResult:
    """One digest run for `day`, outside the cron schedule (operators, tests, demos)."""
    day = day or utcnow().astimezone(settings.zone).date() - timedelta(days=1)
    engine = make_engine(settings.sqlalchemy_url, pool_size=1, max_overflow=0)
    try:
        return await run_digest(
            session_factory=make_session_factory(engine),
            day=day,
            options=digest_options(settings),
        )
    finally:
        await engine.dispose()


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
    if args.command == "run-once":
        result = asyncio.run(run_once(settings, args.date))
        print(f"day={result.day.isoformat()} enqueued={result.enqueued} existing={result.existing}")
        return 0
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
