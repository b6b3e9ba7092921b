"""`python -m relay`: publish the outbox to Kafka until SIGTERM, then exit 0."""

from __future__ import annotations

import asyncio
import signal

from app.core.logging import configure_logging
from relay.service import serve
from relay.settings import RelaySettings


async def _main(settings: RelaySettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)


def main() -> None:
    settings = RelaySettings()
    configure_logging(settings, service="relay")
    asyncio.run(_main(settings))


if __name__ == "__main__":
    main()
