"""Liveness as a heartbeat file: no port to open, and a container check is one command.

The scheduler rewrites the file from an interval job, so a fresh file proves that the event loop
is turning AND that APScheduler is dispatching jobs; `python -m scheduler healthcheck` exits 0
only while the file is younger than a few intervals. The file is removed on a clean shutdown.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

from app.core.clock import utcnow

#: Missed beats tolerated before the process counts as stuck.
MISSED_BEATS = 3


def write_heartbeat(*, path: Path, next_digest_at: datetime | None) -> None:
    """Atomically replace the heartbeat file with the current time and the next digest run."""
    body = {
        "at": utcnow().isoformat(),
        "next_digest_at": None if next_digest_at is None else next_digest_at.isoformat(),
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(body))
    temporary.replace(path)


def is_alive(*, path: Path, interval_seconds: int, now: float | None = None) -> bool:
    """True while the heartbeat file is younger than `MISSED_BEATS` intervals."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return False
    age = (time.time() if now is None else now) - modified
    return age <= MISSED_BEATS * interval_seconds


def remove_heartbeat(path: Path) -> None:
    path.unlink(missing_ok=True)
