"""`python -m mailer`: run until SIGTERM or SIGINT, then finish in-flight sends and exit 0."""

from __future__ import annotations

import asyncio
import signal

from app.core.logging import configure_logging
from mailer.bootstrap import run_mailer
from mailer.settings import MailerSettings


async def _serve(settings: MailerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_mailer(settings, stop=stop)


def main() -> None:
    settings = MailerSettings()
    configure_logging(settings, service="mailer")
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
