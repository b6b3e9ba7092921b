"""Waiting on several things at once, for loops that must also notice a shutdown."""

from __future__ import annotations

import asyncio


async def wait_any(*events: asyncio.Event, seconds: float) -> None:
    """Return when any of the events is set or the timeout passes, whichever is first."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    if not waiters:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
