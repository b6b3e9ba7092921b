"""Resident memory: long-running services are sampled from /proc (`Service.rss_kib`); a one-shot
digest run reports its own peak."""

from __future__ import annotations

import subprocess

from tests.support import ROOT
from tests.support.processes import PYTHON

# Runs the real entry point, then reports its own peak RSS (ru_maxrss is in KiB on Linux).
_PEAK = """
import resource, runpy, sys
sys.argv = ["scheduler", "run-once", "--date", sys.argv[1]]
try:
    runpy.run_module("scheduler", run_name="__main__")
except SystemExit:
    pass
print("PEAK_RSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def scheduler_peak_rss_kib(env: dict[str, str], day: str) -> int:
    """Peak RSS of `python -m scheduler run-once --date day` over the bench's users."""
    done = subprocess.run(
        [PYTHON, "-c", _PEAK, day],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("PEAK_RSS_KIB"))
    return int(line.split()[1])
