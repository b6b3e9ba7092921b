"""The life of a long-running service process: run until SIGTERM or SIGINT, then stop cleanly."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable, Coroutine
from typing import Any

#: Allocations between young-generation collections (CPython's default is 700). An API request
#: allocates a few thousand short-lived objects, a relay batch of 1,000 rows a few tens of
#: thousands, so the default collects many times per unit of work (decision 0008; for the
#: relay, decision 0016).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Collect less often, and never walk again what the process holds since its start.

    Called once a service has imported and built what lives as long as the process: that heap
    is moved out of the collector's sight (`gc.freeze`), so the rare full collection walks only
    what the work left behind.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 50)


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
