"""The whole system run natively for the end-to-end tests: API, relay and mailer as real processes
against a database and a topic of their own, with a real SMTP server that records what it gets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.migrations import migrated_database
from tests.support.processes import Deployment, deployment_env, running_system
from tests.support.smtp import SmtpServer


@pytest.fixture(scope="module")
def e2e_database_url(admin_url: str) -> Iterator[str]:
    """Not the session's shared database: other tests truncate that one while ours run."""
    with migrated_database(admin_url, "todo_e2e") as url:
        yield url


@pytest.fixture(scope="module")
def deployment(
    e2e_database_url: str, kafka_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    log_dir: Path = tmp_path_factory.mktemp("e2e-logs")
    with SmtpServer() as smtp, running_system(log_dir) as system:
        env = deployment_env(
            database_url=e2e_database_url,
            kafka_servers=kafka_servers,
            smtp=smtp,
            run_id=uuid.uuid4().hex[:12],
        )
        deployed = Deployment(system, env, e2e_database_url, kafka_servers, smtp)
        deployed.add_pipeline()
        with deployed.serving("api", "relay", "mailer"):
            yield deployed
