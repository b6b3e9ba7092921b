"""The chaos suite's own PostgreSQL and Kafka, and the deployments it builds on them."""

from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from tests.support import ROOT
from tests.support.migrations import create_database, upgrade
from tests.support.processes import Deployment, deployment_env, running_system
from tests.support.smtp import SmtpServer

# Below Linux's ephemeral range (32768-60999): while Kafka is down, some client socket may be
# given its port as a local port (even connect to itself) and Kafka could not bind it again.
PG_PORT, KAFKA_PORT, KAFKA_CONTROLLER_PORT = 26432, 29192, 29193

# Faster retries than production so the suite stays short (the paths exercised are the same),
# and small relay batches so that a kill lands inside one.
CHAOS_SETTINGS = {
    "RELAY_BATCH_SIZE": "50",
    "RELAY_BACKOFF_MAX_SECONDS": "2",
    "SMTP_RETRY_ATTEMPTS": "30",
    "SMTP_RETRY_MAX_SECONDS": "2",
    "DB_RETRY_MAX_SECONDS": "2",
    "MAILER_CONCURRENCY": "8",
    # Short leases, so that a killed or paused relay's partitions move within seconds.
    "RELAY_LEASE_SECONDS": "3",
    "RELAY_HEARTBEAT_SECONDS": "0.5",
}
MAILER_CONCURRENCY = int(CHAOS_SETTINGS["MAILER_CONCURRENCY"])


@dataclass(frozen=True)
class Infra:
    """PostgreSQL and Kafka of this session only, started and stopped with scripts/services.sh."""

    services_dir: str

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/postgres"

    @property
    def kafka_servers(self) -> str:
        return f"127.0.0.1:{KAFKA_PORT}"

    def run(self, command: str) -> None:
        env = os.environ | {
            "SERVICES_DIR": self.services_dir,
            "PG_PORT": str(PG_PORT),
            "KAFKA_PORT": str(KAFKA_PORT),
            "KAFKA_CONTROLLER_PORT": str(KAFKA_CONTROLLER_PORT),
        }
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "services.sh"), command],
            env=env,
            check=True,
            timeout=180,
            stdout=subprocess.DEVNULL,
        )


class DeploymentFactory:
    """Builds a scenario's deployment: a fresh database and topic, API + relays + mailers."""

    def __init__(self, infra: Infra, log_dir: Path, stack: ExitStack) -> None:
        self._infra = infra
        self._log_dir = log_dir
        self._stack = stack

    def __call__(self, *, relays: int = 1, mailers: int = 1) -> Deployment:
        name = f"chaos_{uuid.uuid4().hex[:10]}"
        create_database(self._infra.admin_url, name)
        url = make_url(self._infra.admin_url).set(database=name).render_as_string(False)
        upgrade(url)
        smtp = self._stack.enter_context(SmtpServer())
        system = self._stack.enter_context(running_system(self._log_dir))
        env = deployment_env(
            database_url=url,
            kafka_servers=self._infra.kafka_servers,
            smtp=smtp,
            run_id=name,
            **CHAOS_SETTINGS,
        )
        deployment = Deployment(system, env, url, self._infra.kafka_servers, smtp)
        names = [deployment.add_api().name]
        names += [deployment.add_relay(f"relay{i + 1}").name for i in range(relays)]
        names += [deployment.add_mailer(f"mailer{i + 1}").name for i in range(mailers)]
        system.start(*names, timeout=90)
        return deployment
