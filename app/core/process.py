"""The life of a long-running service process: run until SIGTERM or SIGINT, then stop cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any


def run_until_signalled(serve: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run `serve(stop)` in a fresh event loop; SIGTERM or SIGINT sets `stop`.

    `serve` finishes its work in flight and returns; the process then exits 0, which is what a
    container runtime or supervisor expects of a clean stop.
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(stop)

    asyncio.run(main())
