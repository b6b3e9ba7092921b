"""What the numbers were measured on, and how busy the machine was with other work meanwhile."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def busy_percent(seconds: float = 2.0) -> float:
    """CPU busy over `seconds`, all cores: taken before a run, it is other people's load."""
    total0, idle0 = _cpu_times()
    time.sleep(seconds)
    total1, idle1 = _cpu_times()
    return round(100 * (1 - (idle1 - idle0) / max(1, total1 - total0)), 1)


def describe() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "busy_percent_before": busy_percent(),
    }
