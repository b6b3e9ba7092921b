"""A small supervisor for the natively run system, shared by the e2e and fault tests and the bench.

It starts the real entry points (`python -m app`, `-m relay`, `-m mailer`, `-m scheduler run-once`)
as subprocesses configured only by environment variables, waits until each is healthy, and
kills or restarts them on demand. Its SMTP server is `tests.support.smtp`, its reader of a whole
Kafka topic `tests.support.kafka`.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import make_url

from tests.support import ROOT
from tests.support.kafka import delete_topics
from tests.support.ports import Health, free_port
from tests.support.smtp import SmtpServer

PYTHON = sys.executable


def http_ok(url: str) -> Health:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> float:
    """Poll `condition` until it holds; return the seconds it took or raise TimeoutError."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            msg = f"condition not met within {timeout} s"
            raise TimeoutError(msg)
        time.sleep(interval)
    return time.monotonic() - start


def base_env(**overrides: str) -> dict[str, str]:
    """A clean environment for a service: only what a process needs plus the given variables."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env |= {"PYTHONUNBUFFERED": "1", "APP_ENV": "development", "LOG_JSON": "true"}
    # Every account of a test or bench run registers from one loopback address.
    env |= {"REGISTER_MAX_PER_CLIENT": "1000000", "REGISTER_MAX_TOTAL": "1000000"}
    return env | overrides


@dataclass
class Service:
    """One supervised process; its own process group, so a kill reaches its worker children."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    health: Health | None = None
    port: int | None = None  # its HTTP port (API, or health and metrics of a worker)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        return self.alive() and (self.health is None or self.health())

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start #{self.starts + 1} {time.strftime('%X')} ---\n".encode())
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def wait_healthy(self, timeout: float = 30.0) -> float:
        def ready() -> bool:
            if not self.alive():
                msg = f"{self.name} exited with {self.returncode()}:\n{self.log_tail()}"
                raise RuntimeError(msg)
            return self.healthy()

        try:
            return wait_until(ready, timeout=timeout, interval=0.1)
        except TimeoutError:
            msg = f"{self.name} not healthy within {timeout} s:\n{self.log_tail()}"
            raise TimeoutError(msg) from None

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (`kill -9` by default) and reap it."""
        if not self.alive():
            return
        with suppress(ProcessLookupError):
            os.killpg(self.pid, sig)
        if sig == signal.SIGKILL:
            assert self.proc is not None
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait for a clean exit; SIGKILL after `timeout`. Returns the exit code."""
        if self.proc is None:
            return None
        if self.alive():
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # Any worker children left behind by a parent that died first go too.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        return self.proc.returncode

    def restart(self, timeout: float = 30.0) -> float:
        self.stop()
        self.start()
        return self.wait_healthy(timeout)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def rss_kib(self) -> int:
        """Resident memory of the process and all its descendants (uvicorn workers), in KiB."""
        return sum(_rss_kib(pid) for pid in _tree(self.pid)) if self.alive() else 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _rss_kib(pid: int) -> int:
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class System:
    """The services of one test session or bench run; `close()` stops all of them."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.services: dict[str, Service] = {}

    def add(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        health: Health | None = None,
        port: int | None = None,
    ) -> Service:
        service = Service(name, argv, dict(env), self.log_dir, health, port)
        self.services[name] = service
        return service

    def start(self, *names: str, timeout: float = 60.0) -> None:
        """Start the named services together, then wait until each is healthy."""
        for name in names:
            self.services[name].start()
        for name in names:
            self.services[name].wait_healthy(timeout)

    def pids(self) -> dict[str, int]:
        return {name: s.pid for name, s in self.services.items() if s.alive()}

    def close(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()


@contextmanager
def running_system(log_dir: Path) -> Iterator[System]:
    system = System(log_dir)
    try:
        yield system
    finally:
        system.close()


def add_nginx(
    system: System, *, api_port: int, web_port: int, nginx_dir: Path, nginx_bin: str
) -> None:
    """nginx as the project runs it natively (scripts/nginx.sh), in front of the API's port."""
    system.add(
        "nginx",
        ["bash", str(ROOT / "scripts" / "nginx.sh")],
        base_env(
            API_UPSTREAM=f"127.0.0.1:{api_port}",
            LISTEN_PORT=f"127.0.0.1:{web_port}",
            NGINX_DIR=str(nginx_dir),
            NGINX_BIN=nginx_bin,
        ),
        http_ok(f"http://127.0.0.1:{web_port}/nginx-health"),
    )


def api_argv() -> list[str]:
    return [PYTHON, "-m", "app"]


def relay_argv() -> list[str]:
    return [PYTHON, "-m", "relay"]


def mailer_argv() -> list[str]:
    return [PYTHON, "-m", "mailer"]


def run_scheduler_once(
    env: Mapping[str, str], day: str, *, log: Path, timeout: float = 60.0
) -> int:
    """`python -m scheduler run-once --date day`; returns its exit code (non-zero is allowed)."""
    with log.open("ab") as out:
        done = subprocess.run(
            [PYTHON, "-m", "scheduler", "run-once", "--date", day],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return done.returncode


# --- the outbox ----------------------------------------------------------------------------


def sync_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql+psycopg").render_as_string(False)


# --- one deployment: API + relays + mailers ----------------------------------------------------


@dataclass
class Deployment:
    """The natively run system of one test session: its processes, settings and SMTP server."""

    system: System
    env: dict[str, str]
    database_url: str
    kafka_servers: str
    smtp: SmtpServer
    api_url: str = ""

    @property
    def topic(self) -> str:
        return self.env["KAFKA_TOPIC"]

    def service(self, name: str) -> Service:
        return self.system.services[name]

    def add_api(self, name: str = "api", workers: int = 1) -> Service:
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        env = self.env | {"API_PORT": str(port), "API_WORKERS": str(workers)}
        return self.system.add(name, api_argv(), env, http_ok(f"{self.api_url}/healthz"), port)

    def add_relay(self, name: str = "relay") -> Service:
        port = free_port()
        env = self.env | {"RELAY_METRICS_PORT": str(port)}
        health = http_ok(f"http://127.0.0.1:{port}/healthz")
        return self.system.add(name, relay_argv(), env, health, port)

    def add_mailer(self, name: str = "mailer") -> Service:
        port = free_port()
        env = self.env | {"MAILER_HEALTH_PORT": str(port)}
        health = http_ok(f"http://127.0.0.1:{port}/healthz")
        return self.system.add(name, mailer_argv(), env, health, port)

    def add_pipeline(self) -> Service:
        """The API, one relay and one mailer; returns the API."""
        api = self.add_api()
        self.add_relay()
        self.add_mailer()
        return api

    @contextmanager
    def serving(self, *names: str, timeout: float = 60) -> Iterator[Deployment]:
        """Start `names`, yield, then stop every process and delete the run's topics."""
        self.system.start(*names, timeout=timeout)
        try:
            yield self
        finally:
            self.system.close()
            topics = [self.env["KAFKA_TOPIC"], self.env["KAFKA_DLQ_TOPIC"]]
            asyncio.run(delete_topics(self.kafka_servers, topics))

    def run_digest(self, day: str) -> int:
        """One `python -m scheduler run-once --date day`; its exit code."""
        return run_scheduler_once(self.env, day, log=self.system.log_dir / "scheduler.log")

    def relay_partitions(self) -> dict[str, int]:
        """Partitions each live relay leases now, from its /metrics."""
        owned: dict[str, int] = {}
        for name, service in self.system.services.items():
            if name.startswith("relay") and service.alive() and service.port:
                with suppress(httpx.HTTPError):
                    metrics = httpx.get(f"http://127.0.0.1:{service.port}/metrics", timeout=2)
                    found = re.search(r"^relay_partitions_owned (\S+)$", metrics.text, re.M)
                    if found:
                        owned[name] = int(float(found.group(1)))
        return owned

    def relay_leader(self) -> str | None:
        """The relay that leases the most partitions (all of them when it runs alone), if any."""
        owned = {name: n for name, n in self.relay_partitions().items() if n}
        return max(owned, key=lambda name: owned[name]) if owned else None

    def healthy(self) -> dict[str, bool]:
        return {name: s.healthy() for name, s in self.system.services.items()}


def deployment_env(
    *, database_url: str, kafka_servers: str, smtp: SmtpServer, run_id: str, **extra: str
) -> dict[str, str]:
    """The environment every service of one deployment shares (each adds its own port)."""
    return base_env(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=kafka_servers,
        KAFKA_TOPIC=f"events-{run_id}",
        KAFKA_DLQ_TOPIC=f"events-{run_id}.dlq",
        MAILER_GROUP_ID=f"mailer-{run_id}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        SMTP_SECURITY="none",
        MAIL_FROM="Eventful TODO <digest@example.com>",
        DIGEST_TIMEZONE="UTC",
        **extra,
    )
