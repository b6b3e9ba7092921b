"""Where the tests find PostgreSQL and Kafka: the environment first, testcontainers second.

`DATABASE_URL` must let us create databases (each test session gets a fresh one, migrated with
Alembic). Without the variables, testcontainers starts the services where a Docker engine exists;
otherwise the tests that need them are skipped with the reason, except under `CI=true`, where a
missing service fails the run: a CI that skipped its integration tests proved nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_IMAGE = "postgres:17-alpine"
KAFKA_IMAGE = "apache/kafka:4.1.1"


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=20)
    return probe.returncode == 0


def unavailable(what: str, variable: str) -> None:
    reason = f"{what} unavailable: set {variable} or provide a Docker engine for testcontainers"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(reason)


@contextmanager
def postgres_admin_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    if not _docker_available():
        unavailable("PostgreSQL", "DATABASE_URL")
    from testcontainers.postgres import PostgresContainer  # noqa: PLC0415 - only with Docker

    with PostgresContainer(POSTGRES_IMAGE, driver="psycopg") as pg:
        yield pg.get_connection_url()


@contextmanager
def kafka_bootstrap_servers() -> Iterator[str]:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        yield servers
        return
    if not _docker_available():
        unavailable("Kafka", "KAFKA_BOOTSTRAP_SERVERS")
    from testcontainers.kafka import KafkaContainer  # noqa: PLC0415 - only with Docker

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka:
        yield kafka.get_bootstrap_server()
