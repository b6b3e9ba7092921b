"""Run `python -m relay` as a real subprocess, configured by environment variables only."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from relay.settings import RelaySettings
from tests.support import ROOT
from tests.support.ports import free_port


class RelayProcess:
    """One relay process with its own /healthz port and a log file."""

    def __init__(self, settings: RelaySettings, log_dir: Path, name: str, **extra: str) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"relay-{name}.log"
        env = (
            os.environ
            | {
                "DATABASE_URL": settings.sqlalchemy_url,
                "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "KAFKA_TOPIC": settings.kafka_topic,
                "RELAY_BATCH_SIZE": str(settings.relay_batch_size),
                "RELAY_PARTITIONS": str(settings.relay_partitions),
                "RELAY_LEASE_SECONDS": str(settings.relay_lease_seconds),
                "RELAY_HEARTBEAT_SECONDS": str(settings.relay_heartbeat_seconds),
                "RELAY_METRICS_PORT": str(self.port),
                "RELAY_PUBLISH_TIMEOUT_SECONDS": "5",
                "LOG_JSON": "true",
            }
            | extra
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "relay"], cwd=ROOT, env=env, stdout=log, stderr=log
            )

    async def role(self) -> str | None:
        """'active' (owns partitions) or 'standby' from /healthz, None while not serving."""
        try:
            async with httpx.AsyncClient(timeout=1.0) as client:
                response = await client.get(f"http://127.0.0.1:{self.port}/healthz")
        except httpx.HTTPError:
            return None
        role = json.loads(response.content).get("role")
        return str(role) if role else None

    async def metrics(self) -> str:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(f"http://127.0.0.1:{self.port}/metrics")).text

    async def partitions_owned(self) -> int | None:
        """How many partitions it leases, from /metrics; None while it is not serving."""
        try:
            text = await self.metrics()
        except httpx.HTTPError:
            return None
        found = re.search(r"^relay_partitions_owned (\S+)$", text, re.M)
        return int(float(found.group(1))) if found else None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, *, seconds: float = 20) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=seconds)

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
