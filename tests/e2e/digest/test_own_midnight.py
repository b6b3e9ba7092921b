"""Each user's digest at their own midnight, and the email's one-click unsubscribe, end to end.

Real processes: the API behind nginx (the public URL the emails link to), the relay, the mailer,
`python -m scheduler run-once --at`, PostgreSQL, Kafka and an SMTP server that records mail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.core.events import DailyDigestRequested
from tests.support import ROOT
from tests.support.migrations import migrated_database
from tests.support.ports import free_port
from tests.support.processes import (
    PYTHON,
    Deployment,
    add_nginx,
    deployment_env,
    running_system,
    sync_url,
    wait_until,
)
from tests.support.services import missing
from tests.support.smtp import Received, SmtpServer

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
MAIL_WAIT_SECONDS = 60
UNSUBSCRIBE_SECRET = "e2e-unsubscribe-secret-" + "u" * 30
TOKYO, LONDON, ANGELES = "Asia/Tokyo", "Europe/London", "America/Los_Angeles"
DAY = date(2026, 12, 1)
# The midnights that end 1 December in each zone, and the next one in Los Angeles.
MIDNIGHT = {
    TOKYO: "2026-12-01T15:00:00Z",
    LONDON: "2026-12-02T00:00:00Z",
    ANGELES: "2026-12-02T08:00:00Z",
}
NEXT_ANGELES_MIDNIGHT = "2026-12-03T08:00:00Z"
MAILJET_USER, MAILJET_PASSWORD = "mailjet", "e2e-mailjet-callback-password"


@dataclass(frozen=True)
class Stack:
    deployment: Deployment
    web_url: str  # nginx: what users and mailbox providers reach


@pytest.fixture(scope="module")
def stack(
    admin_url: str, kafka_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    nginx = shutil.which(os.environ.get("NGINX_BIN", "nginx")) or shutil.which("/usr/sbin/nginx")
    if nginx is None:
        missing("nginx is not installed (apt-get install nginx-light)")
    runtime = tmp_path_factory.mktemp("e2e-own-midnight")
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    with (
        migrated_database(admin_url, "todo_e2e_zones") as database_url,
        SmtpServer() as smtp,
        running_system(runtime / "logs") as system,
    ):
        env = deployment_env(
            database_url=database_url,
            kafka_servers=kafka_servers,
            smtp=smtp,
            run_id=uuid.uuid4().hex[:12],
            UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET,
            APP_PUBLIC_URL=web_url,
            # Each `run-once --at` covers just its own tick, as the running daemon would.
            DIGEST_GRACE_SECONDS="900",
            MAILJET_WEBHOOK_USERNAME=MAILJET_USER,
            MAILJET_WEBHOOK_PASSWORD=MAILJET_PASSWORD,
        )
        deployed = Deployment(system, env, database_url, kafka_servers, smtp)
        api = deployed.add_pipeline()
        assert api.port is not None
        add_nginx(
            system,
            api_port=api.port,
            web_port=web_port,
            nginx_dir=runtime / "nginx",
            nginx_bin=nginx,
        )
        with deployed.serving("api", "relay", "mailer", "nginx"):
            yield Stack(deployed, web_url)


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    headers: dict[str, str]


def sign_up(client: httpx.Client, zone: str) -> User:
    """Register through nginx with a zone, as the web client does, and log in."""
    email = f"zone-{uuid.uuid4().hex[:10]}@example.com"
    created = client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "timezone": zone}
    )
    assert created.status_code == 201, created.text
    login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return User(
        uuid.UUID(created.json()["id"]),
        email,
        {"Authorization": f"Bearer {login.json()['access_token']}"},
    )


def run_at(stack: Stack, instant: str) -> str:
    """`python -m scheduler run-once --at instant`; its output line."""
    done = subprocess.run(
        [PYTHON, "-m", "scheduler", "run-once", "--at", instant],
        cwd=ROOT,
        env=stack.deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def mail_to(stack: Stack, user: User) -> list[Received]:
    return [m for m in stack.deployment.smtp.messages if user.email in m.rcpt_tos]


def digest_rows(stack: Stack, user: User) -> int:
    engine = create_engine(sync_url(stack.deployment.database_url))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM outbox"
                        " WHERE type = 'email.daily_digest.requested' AND key = :key"
                    ),
                    {"key": str(user.id)},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def counts(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split())


def test_users_in_three_zones_get_their_digest_at_their_own_midnight_and_can_unsubscribe(
    stack: Stack,
) -> None:
    with httpx.Client(base_url=stack.web_url, timeout=30) as client:
        users = {zone: sign_up(client, zone) for zone in (TOKYO, LONDON, ANGELES)}
        added = client.post("/api/tasks", json={"title": "Pack"}, headers=users[TOKYO].headers)
        assert added.status_code == 201, added.text

        # Each midnight sends exactly the digest of that zone's user, and nobody else's.
        for position, zone in enumerate((TOKYO, LONDON, ANGELES)):
            assert counts(run_at(stack, MIDNIGHT[zone]))["enqueued"] == "1"

            def mailed(z: str = zone) -> bool:
                return len(mail_to(stack, users[z])) == 1

            wait_until(mailed, timeout=MAIL_WAIT_SECONDS)
            later = (TOKYO, LONDON, ANGELES)[position + 1 :]
            assert [digest_rows(stack, users[z]) for z in later] == [0] * len(later)
            [mail] = mail_to(stack, users[zone])
            assert mail.event_id == DailyDigestRequested.id_for(users[zone].id, DAY)
            # The user's own day, though the mailer's zone (UTC) is a day ahead of Los Angeles.
            assert DAY.strftime("%a %d %b %Y") in str(mail.message["Subject"])
        assert "Pack" in mail_to(stack, users[TOKYO])[0].text()

        # The mailbox provider's one-click: a POST of the header's URL, no cookie, no login.
        mail = mail_to(stack, users[ANGELES])[0]
        link = str(mail.message["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")
        assert link.startswith(f"{stack.web_url}/api/unsubscribe/")
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert link in mail.text()
        assert f'href="{link}"' in mail.html()

        page = httpx.get(link, timeout=30)  # a link scanner's GET changes nothing
        assert page.status_code == 200
        assert "form-action 'self'" in page.headers["content-security-policy"]
        assert client.get("/api/me", headers=users[ANGELES].headers).json()["digest_enabled"]

        one_click = httpx.post(
            link,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        assert one_click.status_code == 200, one_click.text
        me = client.get("/api/me", headers=users[ANGELES].headers).json()
        assert (me["timezone"], me["digest_enabled"]) == (ANGELES, False)

    # The next midnight in Los Angeles writes nothing, so nothing can be mailed.
    assert counts(run_at(stack, NEXT_ANGELES_MIDNIGHT))["users"] == "0"
    assert digest_rows(stack, users[ANGELES]) == 1
    assert len(mail_to(stack, users[ANGELES])) == 1


def test_a_tampered_link_through_nginx_is_a_404(stack: Stack) -> None:
    with httpx.Client(base_url=stack.web_url, timeout=30) as client:
        user = sign_up(client, "Pacific/Kiritimati")
        assert counts(run_at(stack, "2026-12-01T10:00:00Z"))["enqueued"] == "1"
        wait_until(lambda: len(mail_to(stack, user)) == 1, timeout=MAIL_WAIT_SECONDS)
        link = str(mail_to(stack, user)[0].message["List-Unsubscribe"]).strip()[1:-1]

        tampered = httpx.post(
            link[:-2] + ("AA" if not link.endswith("AA") else "BB"),
            data={"List-Unsubscribe": "One-Click"},
            timeout=30,
        )

        assert tampered.status_code == 404
        assert client.get("/api/me", headers=user.headers).json()["digest_enabled"] is True


def test_a_hard_bounce_reported_by_mailjet_through_nginx_ends_the_digest(stack: Stack) -> None:
    with httpx.Client(base_url=stack.web_url, timeout=30) as client:
        user = sign_up(client, "Asia/Kathmandu")  # midnight at 18:15 UTC
        assert counts(run_at(stack, "2026-12-01T18:15:00Z"))["enqueued"] == "1"
        wait_until(lambda: len(mail_to(stack, user)) == 1, timeout=MAIL_WAIT_SECONDS)
        bounce = {
            "event": "bounce",
            "time": 1764612900,
            "MessageID": 19421777835146490,
            "Message_GUID": str(uuid.uuid4()),
            "email": user.email,
            "mj_campaign_id": 0,
            "mj_contact_id": 0,
            "customcampaign": "",
            "CustomID": "",
            "Payload": "",
            "blocked": False,
            "hard_bounce": True,
            "error_related_to": "recipient",
            "error": "user unknown",
        }

        refused = client.post("/api/webhooks/mailjet", json=[bounce], auth=("mailjet", "wrong"))
        accepted = client.post(
            "/api/webhooks/mailjet", json=[bounce], auth=(MAILJET_USER, MAILJET_PASSWORD)
        )

        assert refused.status_code == 401
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"disabled": 1, "ignored": 0}
        assert client.get("/api/me", headers=user.headers).json()["digest_enabled"] is False
    assert counts(run_at(stack, "2026-12-02T18:15:00Z"))["users"] == "0"
    assert digest_rows(stack, user) == 1
