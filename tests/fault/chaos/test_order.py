"""Three relays share the outbox; per-key order holds through kills, a pause past the lease, a
relay joining, a PostgreSQL restart and a broker restart; nothing is lost."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.fault.chaos.checks import Outbox
from tests.fault.chaos.conftest import ORDER_RESULTS_FILE
from tests.fault.chaos.infra import CHAOS_SETTINGS, DeploymentFactory, Infra
from tests.fault.chaos.order import FaultWindow, LiveReader, OrderedWriters, check_order
from tests.support.processes import Deployment, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

LEASE_S = float(CHAOS_SETTINGS["RELAY_LEASE_SECONDS"])
PAUSE_S = 2.5 * LEASE_S  # well past the lease: its partitions move while it sleeps
BETWEEN_S = 6.0  # load between two faults: long enough to see each one's stall
TOPIC_PARTITIONS = 6  # RELAY_TOPIC_PARTITIONS' default: the relays create the topic


def relays_share_the_partitions(deployment: Deployment, *names: str) -> bool:
    owned = deployment.relay_partitions()
    return all(owned.get(name, 0) > 0 for name in names)


def test_three_relays_keep_per_key_order_through_every_fault(
    deploy: DeploymentFactory, infra: Infra, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = deploy(relays=3, mailers=0)
    wait_until(
        lambda: relays_share_the_partitions(deployment, "relay1", "relay2", "relay3"), timeout=30
    )
    outbox = Outbox(deployment.database_url)
    writers = OrderedWriters(deployment.database_url, deployment.topic)
    reader = LiveReader(deployment.kafka_servers, deployment.topic, TOPIC_PARTITIONS)
    windows: list[FaultWindow] = []

    def fault(name: str) -> None:
        now = time.time()
        if windows:
            windows[-1].ended = now
        windows.append(FaultWindow(name, now))

    writers.start()
    reader.start()
    try:
        time.sleep(BETWEEN_S)
        owner = deployment.relay_leader() or "relay1"
        fault(f"SIGKILL an owner ({owner})")
        deployment.service(owner).kill()
        time.sleep(BETWEEN_S)
        deployment.service(owner).start()  # it comes back as a new member
        deployment.service(owner).wait_healthy()

        paused = deployment.relay_leader() or "relay2"
        fault(f"SIGSTOP {paused} {PAUSE_S:.0f} s, then SIGCONT")
        deployment.service(paused).kill(signal.SIGSTOP)
        time.sleep(PAUSE_S)
        deployment.service(paused).kill(signal.SIGCONT)
        time.sleep(BETWEEN_S)

        fault("a fourth relay joins")
        deployment.add_relay("relay4")
        deployment.system.start("relay4", timeout=60)
        wait_until(lambda: relays_share_the_partitions(deployment, "relay4"), timeout=30)
        time.sleep(BETWEEN_S)

        fault("PostgreSQL restart")
        infra.run("stop-pg")
        infra.run("start-pg")
        time.sleep(BETWEEN_S)

        fault("Kafka broker restart")
        infra.run("stop-kafka")
        infra.run("start-kafka")
        time.sleep(BETWEEN_S)
        fault("steady load after the faults")
        time.sleep(BETWEEN_S / 2)
    finally:
        writers.stop()
        windows[-1].ended = time.time()
    try:
        mark = outbox.high_water_mark()
        wait_until(lambda: outbox.published_up_to(mark), timeout=120, interval=0.2)
        wait_until(lambda: set(writers.committed) <= set(reader.seen_at), timeout=60)
    finally:
        reader.stop()
        outbox.close()

    report = check_order(deployment.kafka_servers, deployment.topic, writers, reader, windows)
    ORDER_RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    ORDER_RESULTS_FILE.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    with capsys.disabled():
        print(f"\norder checker: {report.as_dict()}")

    assert report.lost == 0, f"{report.lost} committed events never became visible on Kafka"
    assert report.order_violations == 0, report.examples
    assert report.committed > 1000  # the faults really happened under load
    assert all(service.healthy() for service in deployment.system.services.values())
    logs = "".join(
        deployment.service(n).log_path.read_text() for n in ("relay1", "relay2", "relay3")
    )
    assert "previous owner fenced" in logs  # the pause and the kill were fenced, not waited out
