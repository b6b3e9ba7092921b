"""A steady load for the fault scenarios: task writes through the API and digest runs, in threads.

Failures while a dependency is down are expected and counted, never retried by hand: what the
suite checks afterwards is what PostgreSQL committed, not what the clients saw.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx

from tests.support.processes import Deployment

PASSWORD = "chaos-password-123"
TASK_INTERVAL_S = 0.05
DIGEST_INTERVAL_S = 2.0


@dataclass
class LoadStats:
    tasks_acknowledged: set[str] = field(default_factory=set)
    requests_failed: int = 0
    digest_runs_ok: int = 0
    digest_runs_failed: int = 0


class SteadyLoad:
    """Writes tasks (and completes every fifth) for a few users; runs a digest every 2 s."""

    def __init__(self, deployment: Deployment, *, users: int = 4) -> None:
        self._deployment = deployment
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.stats = LoadStats()
        self._headers = [self._sign_up() for _ in range(users)]
        self._day = date(2030, 1, 1)
        self._threads = [
            threading.Thread(target=self._write_tasks, name="chaos-tasks", daemon=True),
            threading.Thread(target=self._run_digests, name="chaos-digests", daemon=True),
        ]

    def _sign_up(self) -> dict[str, str]:
        email = f"chaos-{uuid.uuid4().hex[:10]}@example.com"
        with httpx.Client(base_url=self._deployment.api_url, timeout=30) as client:
            client.post(
                "/auth/register", json={"email": email, "password": PASSWORD}
            ).raise_for_status()
            reply = client.post("/auth/login", json={"email": email, "password": PASSWORD})
            reply.raise_for_status()
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> LoadStats:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)
        return self.stats

    def acknowledged(self) -> int:
        with self._lock:
            return len(self.stats.tasks_acknowledged)

    def digest_runs(self) -> int:
        with self._lock:
            return self.stats.digest_runs_ok

    def _write_tasks(self) -> None:
        with httpx.Client(base_url=self._deployment.api_url, timeout=5) as client:
            for n in itertools.count():
                if self._stop.wait(TASK_INTERVAL_S):
                    return
                headers = self._headers[n % len(self._headers)]
                try:
                    reply = client.post("/tasks", json={"title": f"chaos {n}"}, headers=headers)
                    if reply.status_code == 201 and n % 5 == 0:
                        task = reply.json()["id"]
                        client.patch(f"/tasks/{task}", json={"done": True}, headers=headers)
                except httpx.HTTPError:
                    reply = None
                with self._lock:
                    if reply is not None and reply.status_code == 201:
                        self.stats.tasks_acknowledged.add(reply.json()["id"])
                    else:
                        self.stats.requests_failed += 1

    def _run_digests(self) -> None:
        while not self._stop.wait(DIGEST_INTERVAL_S):
            ok = self._deployment.run_digest(self._day.isoformat()) == 0
            with self._lock:
                if ok:
                    self.stats.digest_runs_ok += 1
                    self._day += timedelta(days=1)
                else:
                    self.stats.digest_runs_failed += 1
