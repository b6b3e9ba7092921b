"""Register -> tasks -> digest -> exactly one email in a real SMTP server, through every process."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.core.events import DailyDigestRequested
from tests.support.processes import Deployment, sync_url, wait_until
from tests.support.smtp import Received

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
MAIL_WAIT_SECONDS = 60


def _signed_up(client: httpx.Client) -> tuple[uuid.UUID, str, dict[str, str]]:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    created = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return uuid.UUID(created.json()["id"]), email, headers


def _mail_to(deployment: Deployment, email: str) -> list[Received]:
    return [m for m in deployment.smtp.messages if email in m.rcpt_tos]


def _digest_rows(deployment: Deployment, user_id: uuid.UUID) -> int:
    engine = create_engine(sync_url(deployment.database_url))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM outbox"
                        " WHERE type = 'email.daily_digest.requested' AND key = :key"
                    ),
                    {"key": str(user_id)},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_day_of_tasks_arrives_as_exactly_one_digest_email(deployment: Deployment) -> None:
    today = datetime.now(UTC).date()
    with httpx.Client(base_url=deployment.api_url, timeout=30) as client:
        user_id, email, auth = _signed_up(client)
        ids = {}
        for title in ("Buy milk", "Write the report", "Call <Alice> & Bob"):
            reply = client.post("/tasks", json={"title": title}, headers=auth)
            assert reply.status_code == 201, reply.text
            ids[title] = reply.json()["id"]
        done = client.patch(f"/tasks/{ids['Buy milk']}", json={"done": True}, headers=auth)
        assert done.status_code == 200, done.text

    assert deployment.run_digest(today.isoformat()) == 0
    wait_until(lambda: len(_mail_to(deployment, email)) >= 1, timeout=MAIL_WAIT_SECONDS)

    [mail] = _mail_to(deployment, email)
    assert mail.event_id == DailyDigestRequested.id_for(user_id, today)
    subject = str(mail.message["Subject"])
    assert re.search(r"\b2 to do\b", subject), subject
    assert re.search(r"\b1 done\b", subject), subject
    body = mail.text()
    assert "Write the report" in body
    assert "Call <Alice> & Bob" in body
    assert "Buy milk" not in body  # only what is still to do is listed
    assert "Call &lt;Alice&gt; &amp; Bob" in mail.html()  # user text is escaped in HTML


def test_running_the_same_day_again_sends_no_second_email(deployment: Deployment) -> None:
    today = datetime.now(UTC).date()
    with httpx.Client(base_url=deployment.api_url, timeout=30) as client:
        user_id, email, auth = _signed_up(client)
        reply = client.post("/tasks", json={"title": "Water the plants"}, headers=auth)
        assert reply.status_code == 201, reply.text

    assert deployment.run_digest(today.isoformat()) == 0
    wait_until(lambda: len(_mail_to(deployment, email)) >= 1, timeout=MAIL_WAIT_SECONDS)
    assert deployment.run_digest(today.isoformat()) == 0
    assert _digest_rows(deployment, user_id) == 1

    # A later day's digest is a barrier: once it has been mailed, the mailer has long since
    # consumed everything written before it for this user (same key, same partition).
    tomorrow = today + timedelta(days=1)
    assert deployment.run_digest(tomorrow.isoformat()) == 0
    wait_until(lambda: len(_mail_to(deployment, email)) >= 2, timeout=MAIL_WAIT_SECONDS)

    per_event = {m.event_id for m in _mail_to(deployment, email)}
    assert len(_mail_to(deployment, email)) == 2
    assert per_event == {
        DailyDigestRequested.id_for(user_id, today),
        DailyDigestRequested.id_for(user_id, tomorrow),
    }
