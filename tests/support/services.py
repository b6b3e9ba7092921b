"""Where the tests find PostgreSQL and Kafka: the environment first, testcontainers second.

`DATABASE_URL` must let us create databases (each test session gets a fresh one, migrated with
Alembic). Without the variables, testcontainers starts the services where a Docker engine exists;
otherwise the tests that need them are skipped with the reason, except under `CI=true`, where a
missing service fails the run: a CI that skipped its integration tests proved nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

POSTGRES_IMAGE = "postgres:17-alpine"
KAFKA_IMAGE = "apache/kafka:4.1.1"


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=20)
    return probe.returncode == 0


def missing(reason: str) -> NoReturn:
    """Skip for want of `reason`; under CI=true fail instead: a CI that skipped proved nothing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing service or tool is a failure, not a skip)")
    pytest.skip(reason)


def unavailable(what: str, variable: str) -> NoReturn:
    missing(f"{what} unavailable: set {variable} or provide a Docker engine for testcontainers")


@contextmanager
def postgres_admin_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    if not _docker_available():
        unavailable("PostgreSQL", "DATABASE_URL")
    from testcontainers.community.postgres import (  # noqa: PLC0415 - only with Docker
        PostgresContainer,
    )

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
    with _apache_kafka_container() as servers:
        yield servers


@contextmanager
def _apache_kafka_container() -> Iterator[str]:
    """The official apache/kafka image as one KRaft node (testcontainers' KafkaContainer is
    Confluent-specific). The advertised listener must name the host port, so pick it first."""
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415 - only with Docker
    from testcontainers.core.wait_strategies import (  # noqa: PLC0415
        LogMessageWaitStrategy,
    )

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port)
    for key, value in env.items():
        container = container.with_env(key, value)
    container = container.waiting_for(LogMessageWaitStrategy("Kafka Server started"))
    with container:
        yield f"127.0.0.1:{port}"
