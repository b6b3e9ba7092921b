"""The whole system run natively with tracing on, exporting to a real OTLP receiver of the test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.migrations import migrated_database
from tests.support.otlp import OtlpReceiver
from tests.support.processes import Deployment, deployment_env, running_system
from tests.support.smtp import SmtpServer


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced(
    admin_url: str,
    kafka_servers: str,
    otlp: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    """API, relay and mailer exporting their spans to `otlp`; the scheduler runs on demand."""
    log_dir: Path = tmp_path_factory.mktemp("tracing-logs")
    with (
        migrated_database(admin_url, "todo_tracing") as url,
        SmtpServer() as smtp,
        running_system(log_dir) as system,
    ):
        env = deployment_env(
            database_url=url,
            kafka_servers=kafka_servers,
            smtp=smtp,
            run_id=uuid.uuid4().hex[:12],
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint,
            # Export within a fraction of a second rather than the SDK's default 5 s.
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        deployed = Deployment(system, env, url, kafka_servers, smtp)
        deployed.add_pipeline()
        with deployed.serving("api", "relay", "mailer"):
            yield deployed
