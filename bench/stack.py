"""The system under test for the bench: API (N uvicorn workers) + relay, natively, on a fresh DB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.database import bench_database, required_env
from tests.support.kafka import delete_topics
from tests.support.ports import free_port
from tests.support.processes import (
    PYTHON,
    Deployment,
    Service,
    System,
    base_env,
    deployment_env,
    http_ok,
    running_system,
)
from tests.support.smtp import SmtpServer

PASSWORD = "bench-password-1234"  # noqa: S105 - a throwaway account in a throwaway database


@dataclass(frozen=True)
class BenchUser:
    email: str
    token: str


@dataclass
class Stack:
    system: System
    database_url: str
    kafka_servers: str
    topic: str
    api_url: str
    env: dict[str, str]

    @property
    def api(self) -> Service:
        return self.system.services["api"]

    def event_topic(self) -> str:
        """The topic the API's events go to, as its outbox rows name it (call after a write)."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                topic = conn.execute(text("SELECT topic FROM outbox ORDER BY id DESC LIMIT 1"))
                return str(topic.scalar_one())
        finally:
            engine.dispose()

    def user(self, tasks: int = 0) -> BenchUser:
        """Register a fresh user with `tasks` tasks and log it in."""
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        with httpx.Client(base_url=self.api_url, timeout=30) as client:
            client.post(
                "/auth/register", json={"email": email, "password": PASSWORD}
            ).raise_for_status()
            token = login(client, email)
            headers = {"Authorization": f"Bearer {token}"}
            for i in range(tasks):
                client.post(
                    "/tasks", json={"title": f"task {i}"}, headers=headers
                ).raise_for_status()
        return BenchUser(email, token)


def login(client: httpx.Client, email: str) -> str:
    reply = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


def kafka_servers() -> str:
    return required_env("KAFKA_BOOTSTRAP_SERVERS")


@contextmanager
def stack(
    *, workers: int, pool_size: int, max_overflow: int, log_dir: Path, log_level: str = "INFO"
) -> Iterator[Stack]:
    """Start API, relay and mailer against a new database and topic; stop them afterwards."""
    servers = kafka_servers()
    with bench_database() as url, SmtpServer() as smtp, running_system(log_dir) as system:
        env = deployment_env(
            database_url=url,
            kafka_servers=servers,
            smtp=smtp,
            run_id=f"bench-{uuid.uuid4().hex[:8]}",
            LOG_LEVEL=log_level,
            DB_POOL_SIZE=str(pool_size),
            DB_MAX_OVERFLOW=str(max_overflow),
        )
        deployment = Deployment(system, env, url, servers, smtp)
        deployment.add_api(workers=workers)
        deployment.add_relay()
        deployment.add_mailer()
        system.start("api", "relay", "mailer", timeout=90)
        try:
            yield Stack(system, url, servers, deployment.topic, deployment.api_url, env)
        finally:
            system.close()
            asyncio.run(delete_topics(servers, [env["KAFKA_TOPIC"], env["KAFKA_DLQ_TOPIC"]]))


@contextmanager
def bare_api(*, workers: int, log_dir: Path) -> Iterator[str]:
    """`bench.bare_app` under uvicorn with the API's worker count and options; yields its URL."""
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    with running_system(log_dir) as system:
        system.add("bare", argv, base_env(), http_ok(f"http://127.0.0.1:{port}/healthz"))
        system.start("bare")
        yield f"http://127.0.0.1:{port}"
