"""The HTTP load generator: `wrk` (C, epoll) in its own process, so the client costs little CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "lua" / "request.lua"
MARK = "BENCH_JSON "


@dataclass(frozen=True)
class LoadResult:
    """One measured point: throughput and latency percentiles at a fixed concurrency."""

    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    non_2xx: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        msg = "wrk not found: apt-get install wrk (Debian) or brew install wrk"
        raise SystemExit(msg)
    return path


class Wrk:
    """One wrk run, started now; `result()` waits for it (runs may overlap, e.g. a login storm)."""

    def __init__(
        self,
        url: str,
        *,
        connections: int,
        seconds: float,
        method: str = "GET",
        body: str = "",
        token: str = "",
        threads: int = 1,
    ) -> None:
        self.connections = connections
        env = os.environ | {"BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_TOKEN": token}
        argv = [
            require_wrk(),
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout=10s",
            "-s",
            str(SCRIPT),
            url,
        ]
        self._proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> LoadResult:
        out, err = self._proc.communicate()
        line = next((x for x in out.splitlines() if x.startswith(MARK)), None)
        if self._proc.returncode != 0 or line is None:
            msg = f"wrk failed ({self._proc.returncode}): {err.strip() or out.strip()}"
            raise RuntimeError(msg)
        raw = json.loads(line.removeprefix(MARK))
        seconds = raw["duration_us"] / 1e6
        errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
        return LoadResult(
            connections=self.connections,
            requests=raw["requests"],
            seconds=round(seconds, 2),
            rps=round(raw["requests"] / seconds, 1),
            p50_ms=raw["p50_us"] / 1000,
            p90_ms=raw["p90_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000,
            max_ms=raw["max_us"] / 1000,
            errors=errors,
            non_2xx=raw["non_2xx"],
        )


def load(url: str, *, connections: int, seconds: float, **request: Any) -> LoadResult:
    """Drive `url` with `connections` concurrent keep-alive connections for `seconds`."""
    return Wrk(url, connections=connections, seconds=seconds, **request).result()
