"""`python -m mailer dlq ...` against a real dead-letter topic: list, filter, show, discard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mailer.settings import MailerSettings
from tests.integration.mailer.conftest import publish, read_all, running
from tests.support import ROOT
from tests.support.digests import make_digest
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration


def dlq(settings: MailerSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "DATABASE_URL": settings.sqlalchemy_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC": settings.kafka_topic,
        "KAFKA_DLQ_TOPIC": settings.kafka_dlq_topic,
        "OPERATOR": "dave@ops",
        "LOG_JSON": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "mailer", "dlq", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listed(settings: MailerSettings, *filters: str) -> list[dict[str, Any]]:
    done = dlq(settings, "list", *filters, "--json")
    assert done.returncode == 0, done.stderr
    letters: list[dict[str, Any]] = json.loads(done.stdout)
    return letters


async def test_an_absent_dead_letter_topic_lists_nothing(
    db: AsyncEngine, settings: MailerSettings
) -> None:
    done = dlq(settings, "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"no dead letters match in {settings.kafka_dlq_topic}"


async def test_dead_letters_are_filtered_shown_and_discarded_with_an_audit_record(
    db: AsyncEngine,
    settings: MailerSettings,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
    dlq_topic: str,
) -> None:
    refused = make_digest(email="gone@example.com")
    smtp.handler.rejected.add(refused.email)
    garbage_offset = await publish(producer, settings.kafka_topic, value=b"\xffjunk", partition=0)
    digest_offset = await publish(producer, settings.kafka_topic, refused, partition=0)
    async with running(settings):
        await read_all(settings.kafka_bootstrap_servers, dlq_topic, count=2)

    everything = listed(settings)
    assert [(d["reason"], d["original"]["offset"]) for d in everything] == [
        ("undecodable", garbage_offset),
        ("smtp-recipient-refused", digest_offset),
    ]
    assert all(d["original"]["topic"] == settings.kafka_topic for d in everything)
    [digest] = listed(settings, "--type", refused.type)
    assert digest["event_id"] == str(refused.event_id)
    assert listed(settings, "--reason", "550") == [digest]
    assert listed(settings, "--until", "2000-01-01T00:00:00") == []
    assert listed(settings, "--since", "10m") == everything

    [shown] = json.loads(dlq(settings, "show", everything[0]["ref"]).stdout)
    assert shown["value"] == "\ufffdjunk"
    bad_time = dlq(settings, "list", "--since", "yesterday")
    assert bad_time.returncode == 2
    assert "not an ISO 8601 time" in bad_time.stderr

    dry = dlq(settings, "discard", "--all", "--reason", "undecodable", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert len(listed(settings)) == 2
    done = dlq(settings, "discard", "--all", "--reason", "undecodable")
    assert done.returncode == 0, done.stderr
    assert listed(settings) == [digest]
    [discarded] = [d for d in listed(settings, "--handled") if d["reason"] == "undecodable"]
    assert discarded["handled"].startswith("discarded by dave@ops at ")
    async with db.connect() as conn:
        audit = (await conn.execute(text("SELECT * FROM operator_actions"))).mappings().one()
    assert (audit["actor"], audit["tool"], audit["action"], audit["target"]) == (
        "dave@ops",
        "mailer dlq",
        "discard",
        everything[0]["ref"],
    )
    assert audit["detail"]["reason"] == "undecodable"
