"""What an operator sees and does, against the natively running API, relay, mailer, scheduler.

A digest refused by SMTP for good is dead-lettered, traced, fixed, replayed and sent exactly
once, every step with the commands an operator types (`python -m relay trace`, `python -m
mailer dlq`); and every metric the Grafana dashboard queries is served by the real services.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.core.events import DAILY_DIGEST_REQUESTED, DailyDigestRequested
from tests.support import ROOT
from tests.support.ports import free_port
from tests.support.processes import Deployment, http_ok, wait_until

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 60
# The sample names each metric type exposes, after its family name.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def _dashboard_checker() -> ModuleType:
    path = ROOT / "scripts" / "check_dashboard.py"
    spec = importlib.util.spec_from_file_location("check_dashboard", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def served_names(url: str) -> set[str]:
    """Every sample name /metrics can expose, labelled series not yet seen included."""
    text = httpx.get(url, timeout=5).text
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def operator(deployment: Deployment, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m relay|mailer ARGS` with the deployment's settings, as operator carol."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=deployment.env | {"OPERATOR": "carol@ops", "LOG_JSON": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def dead_letters(deployment: Deployment, *filters: str) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = as_json(
        operator(deployment, "mailer", "dlq", "list", *filters, "--json")
    )
    return letters


def outcomes(deployment: Deployment, outcome: str) -> float:
    port = deployment.service("mailer").port
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(rf'^mailer_messages_total{{outcome="{outcome}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_digest_refused_with_550_is_replayed_after_the_fix_and_delivered_exactly_once(
    deployment: Deployment,
) -> None:
    email = f"dlq-{uuid.uuid4().hex[:10]}@example.com"
    deployment.smtp.refuse(email)  # before the account exists: no digest can slip through
    with httpx.Client(base_url=deployment.api_url, timeout=30) as client:
        created = client.post(
            "/auth/register", json={"email": email, "password": "correct horse battery"}
        )
    assert created.status_code == 201, created.text
    user_id = uuid.UUID(created.json()["id"])
    day = datetime.now(UTC).date()
    event_id = DailyDigestRequested.id_for(user_id, day)

    assert deployment.run_digest(day.isoformat()) == 0
    wait_until(lambda: any(d["event_id"] == str(event_id) for d in dead_letters(deployment)),
               timeout=WAIT_SECONDS)  # fmt: skip

    # "Why did I get no digest?": the operator starts from the address and the day.
    asked = ["trace", "--digest-for", email.upper(), "--day", day.isoformat(), "--json"]
    [journey] = as_json(operator(deployment, "relay", *asked))
    assert journey["event_id"] == str(event_id)
    outbox, [letter] = journey["outbox"], journey["dead_letters"]
    assert (outbox["state"], outbox["type"], journey["mailer"]) == (
        "published", DAILY_DIGEST_REQUESTED, None
    )  # fmt: skip
    assert letter["reason"] == "smtp-recipient-refused"
    assert "550" in letter["detail"]
    assert letter["original"] == {
        "topic": deployment.topic, "partition": outbox["partition"], "offset": outbox["offset"]
    }  # fmt: skip
    [listed] = dead_letters(
        deployment, "--type", DAILY_DIGEST_REQUESTED, "--reason", "550", "--since", "1h"
    )
    assert listed["event_id"] == str(event_id)
    assert dead_letters(deployment, "--type", "task.created") == []

    dry = operator(deployment, "mailer", "dlq", "replay", str(event_id), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would replay {event_id}" in dry.stdout
    assert [d["event_id"] for d in dead_letters(deployment)] == [str(event_id)]  # still there

    deployment.smtp.accept(email)  # the fix: the mailbox exists now
    replayed = operator(deployment, "mailer", "dlq", "replay", str(event_id))
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {event_id}" in replayed.stdout
    wait_until(lambda: deployment.smtp.emails_per_event()[event_id] >= 1, timeout=WAIT_SECONDS)
    assert dead_letters(deployment) == []  # handled, so no longer listed
    [handled] = dead_letters(deployment, "--handled")
    assert handled["handled"].startswith("replayed by carol@ops at ")

    # Replayed once more by mistake: the dedupe on the event id keeps it to one email.
    duplicates = outcomes(deployment, "duplicate")
    again = operator(deployment, "mailer", "dlq", "replay", str(event_id))
    assert again.returncode == 0, again.stderr
    wait_until(lambda: outcomes(deployment, "duplicate") > duplicates, timeout=WAIT_SECONDS)
    [sent] = [m for m in deployment.smtp.messages if m.event_id == event_id]
    assert email in sent.rcpt_tos

    journey = as_json(operator(deployment, "relay", "trace", str(event_id), "--json"))
    assert journey["mailer"]["outcome"] == "sent"
    assert journey["mailer"]["message_id"] == sent.message_id
    assert [d["reason"] for d in journey["dead_letters"]] == ["smtp-recipient-refused"]
    assert [(a["actor"], a["tool"], a["action"]) for a in journey["actions"]] == [
        ("carol@ops", "mailer dlq", "replay"),
        ("carol@ops", "mailer dlq", "replay"),
    ]
    readable = operator(deployment, "relay", "trace", str(event_id)).stdout
    assert f"Message-ID {sent.message_id}" in readable


def test_every_metric_the_dashboard_queries_is_served_by_a_running_service(
    deployment: Deployment,
) -> None:
    port = free_port()
    heartbeat = deployment.system.log_dir / "scheduler.heartbeat"
    scheduler = deployment.system.add(
        "scheduler",
        [sys.executable, "-m", "scheduler"],
        deployment.env
        | {"SCHEDULER_METRICS_PORT": str(port), "SCHEDULER_HEARTBEAT_FILE": str(heartbeat)},
        http_ok(f"http://127.0.0.1:{port}/healthz"),
        port,
    )
    deployment.system.start("scheduler", timeout=60)
    try:
        httpx.get(f"{deployment.api_url}/healthz", timeout=5)  # at least one request counted
        served: set[str] = set()
        for name in ("api", "relay", "mailer", "scheduler"):
            served |= served_names(f"http://127.0.0.1:{deployment.service(name).port}/metrics")
    finally:
        scheduler.stop()

    wanted = _dashboard_checker().metric_names(_dashboard_checker().load())
    assert len(wanted) >= 10
    assert sorted(wanted - served) == []
