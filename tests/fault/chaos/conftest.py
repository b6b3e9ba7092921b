"""Fixtures of the chaos suite: its own PostgreSQL and Kafka for the session (never the shared
ones: it stops them), a fresh deployment per scenario, and the summary table at the end."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.fault.chaos.checks import ScenarioResult
from tests.fault.chaos.infra import (
    KAFKA_CONTROLLER_PORT,
    KAFKA_PORT,
    PG_PORT,
    DeploymentFactory,
    Infra,
)
from tests.support import ROOT
from tests.support.ports import port_open

RESULTS_FILE = ROOT / "bench" / "results" / "chaos.json"
ORDER_RESULTS_FILE = ROOT / "bench" / "results" / "chaos-order.json"
RESULTS: list[ScenarioResult] = []


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    for port in (PG_PORT, KAFKA_PORT, KAFKA_CONTROLLER_PORT):
        if port_open(port)():
            pytest.fail(f"port {port} is taken: is another chaos run going on?")
    # Under /tmp, not the clone: PostgreSQL runs as `postgres`, which must be able to enter it.
    services_dir = tempfile.mkdtemp(prefix="chaos-svc-", dir="/tmp")
    Path(services_dir).chmod(0o755)
    infra = Infra(services_dir)
    try:
        infra.run("start")
        yield infra
    finally:
        infra.run("stop")
        shutil.rmtree(services_dir, ignore_errors=True)


@pytest.fixture
def deploy(infra: Infra, tmp_path: Path) -> Iterator[DeploymentFactory]:
    with ExitStack() as stack:
        yield DeploymentFactory(infra, tmp_path / "logs", stack)


@pytest.fixture
def results() -> list[ScenarioResult]:
    """Where each scenario leaves its row of the summary table."""
    return RESULTS


def _table(results: list[ScenarioResult]) -> list[str]:
    head = (
        f"{'scenario':<30}{'events':>7}{'lost':>6}{'repub':>7}{'digests':>8}"
        f"{'dup mails':>10}{'missing':>8}{'on Kafka':>9}{'mailed':>8}  pids/health"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.scenario:<30}{r.events:>7}{r.lost:>6}{r.republished:>7}{r.digests:>8}"
            f"{r.duplicate_emails:>10}{r.missing_emails:>8}"
            f"{r.published_after_s:>8}s{r.mailed_after_s:>7}s  "
            f"{'ok' if r.unchanged_pids and r.all_healthy else 'CHANGED'}"
            + (f"  ({r.note})" if r.note else "")
        )
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("chaos summary")
    for line in _table(RESULTS):
        terminalreporter.write_line(line)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps([r.as_dict() for r in RESULTS], indent=2) + "\n")
    terminalreporter.write_line(f"saved to {RESULTS_FILE.relative_to(ROOT)}")
