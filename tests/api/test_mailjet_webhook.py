"""Mailjet's event callbacks: hard bounces, blocked addresses and spam complaints end the digest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import USE_CLIENT_DEFAULT, AsyncClient, BasicAuth
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.events import UserPreferencesChanged, decode_event
from tests.api.conftest import Account, ClientFactory, assert_problem, outbox

pytestmark = pytest.mark.api

USER, PASSWORD = "mailjet", "webhook-password-for-tests"
AUTH = BasicAuth(USER, PASSWORD)


def mailjet_event(event: str, email: str, **fields: Any) -> dict[str, Any]:
    """An event in the shape of Mailjet's event API documentation (the common fields first)."""
    return {
        "event": event,
        "time": 1433334653,
        "MessageID": 19421777835146490,
        "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
        "email": email,
        "mj_campaign_id": 0,
        "mj_contact_id": 0,
        "customcampaign": "",
        "CustomID": "",
        "Payload": "",
        **fields,
    }


def hard_bounce(email: str) -> dict[str, Any]:
    return mailjet_event(
        "bounce",
        email,
        blocked=False,
        hard_bounce=True,
        error_related_to="recipient",
        error="user unknown",
    )


def soft_bounce(email: str) -> dict[str, Any]:
    return mailjet_event(
        "bounce",
        email,
        blocked=False,
        hard_bounce=False,
        error_related_to="mailbox",
        error="quota exceeded",
    )


def blocked(email: str) -> dict[str, Any]:
    return mailjet_event("blocked", email, error_related_to="recipient", error="user unknown")


def spam(email: str) -> dict[str, Any]:
    return mailjet_event("spam", email, source="JMRPP")


def opened(email: str) -> dict[str, Any]:
    return mailjet_event("open", email, ip="127.0.0.1", geo="FR", agent="Mozilla/5.0")


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[AsyncClient]:
    async with make_client(
        mailjet_webhook_username=USER, mailjet_webhook_password=SecretStr(PASSWORD)
    ) as client:
        yield client


async def _enabled(db: AsyncEngine, account: Account) -> bool:
    async with db.connect() as conn:
        return bool(
            await conn.scalar(
                text("SELECT digest_enabled FROM users WHERE id = :id"), {"id": account.id}
            )
        )


async def _preference_events(db: AsyncEngine) -> list[UserPreferencesChanged]:
    events = [decode_event(json.dumps(row.payload)) for row in await outbox(db)]
    return [event for event in events if isinstance(event, UserPreferencesChanged)]


@pytest.mark.parametrize(
    ("make_event", "cause"), [(hard_bounce, "bounce"), (blocked, "blocked"), (spam, "spam")]
)
async def test_a_single_event_that_ends_delivery_switches_the_digest_off(
    client: AsyncClient, db: AsyncEngine, alice: Account, make_event: Any, cause: str
) -> None:
    response = await client.post("/webhooks/mailjet", json=make_event(alice.email), auth=AUTH)

    assert response.status_code == 200, response.text
    assert response.json() == {"disabled": 1, "ignored": 0}
    assert await _enabled(db, alice) is False
    [event] = await _preference_events(db)
    assert (str(event.user_id), event.digest_enabled, event.cause) == (alice.id, False, cause)


async def test_a_batch_acts_on_the_events_that_end_delivery_and_ignores_the_rest(
    client: AsyncClient,
    db: AsyncEngine,
    alice: Account,
    bob: Account,
    new_account: Any,
) -> None:
    carol = await new_account()
    batch = [
        opened(carol.email),
        soft_bounce(carol.email),
        mailjet_event("sent", carol.email, mj_message_id="1", smtp_reply="250 OK"),
        hard_bounce(alice.email.upper()),
        spam(bob.email),
        hard_bounce("nobody-we-know@example.com"),
    ]

    response = await client.post("/webhooks/mailjet", json=batch, auth=AUTH)

    assert response.status_code == 200
    assert response.json() == {"disabled": 2, "ignored": 0}
    assert (await _enabled(db, alice), await _enabled(db, bob), await _enabled(db, carol)) == (
        False,
        False,
        True,
    )
    assert sorted(e.cause for e in await _preference_events(db)) == ["bounce", "spam"]


async def test_a_repeated_callback_changes_and_announces_nothing_more(
    client: AsyncClient, db: AsyncEngine, alice: Account
) -> None:
    first = await client.post("/webhooks/mailjet", json=[hard_bounce(alice.email)], auth=AUTH)
    again = await client.post("/webhooks/mailjet", json=[hard_bounce(alice.email)], auth=AUTH)
    twice_in_one = await client.post(
        "/webhooks/mailjet", json=[spam(alice.email), spam(alice.email)], auth=AUTH
    )

    assert [r.json()["disabled"] for r in (first, again, twice_in_one)] == [1, 0, 0]
    assert len(await _preference_events(db)) == 1


@pytest.mark.parametrize(
    "auth",
    [None, BasicAuth(USER, "wrong"), BasicAuth("someone", PASSWORD), BasicAuth("", "")],
)
async def test_bad_credentials_are_a_401_and_change_nothing(
    client: AsyncClient, db: AsyncEngine, alice: Account, auth: BasicAuth | None
) -> None:
    response = await client.post(
        "/webhooks/mailjet", json=hard_bounce(alice.email), auth=auth or USE_CLIENT_DEFAULT
    )

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert await _enabled(db, alice) is True


async def test_without_configured_credentials_every_callback_is_refused(
    make_client: ClientFactory, db: AsyncEngine, alice: Account
) -> None:
    async with make_client() as unconfigured:
        response = await unconfigured.post(
            "/webhooks/mailjet", json=hard_bounce(alice.email), auth=BasicAuth("", "")
        )

    assert_problem(response, 401)
    assert await _enabled(db, alice) is True


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json at all",
        b"\xff\xfe\x00",
        b'{"event": "bounce"',
        b"42",
        b'"bounce"',
        b"null",
        b"[1, 2, 3]",
        b'{"email": "x@example.com"}',
        b'{"event": "bounce", "hard_bounce": true, "email": 7}',
        b'{"event": "spam", "email": "a\\u0000b@example.com"}',
        b'{"event": "blocked", "email": "' + b"a" * 400 + b'@example.com"}',
        b'{"event": {"nested": true}, "email": "x@example.com"}',
    ],
)
async def test_garbage_is_answered_200_and_changes_nothing(
    client: AsyncClient, db: AsyncEngine, alice: Account, body: bytes
) -> None:
    response = await client.post(
        "/webhooks/mailjet",
        content=body,
        headers={"Content-Type": "application/json"},
        auth=AUTH,
    )

    assert response.status_code == 200, response.text
    assert response.json()["disabled"] == 0
    assert await _enabled(db, alice) is True
    assert await _preference_events(db) == []


async def test_a_garbage_event_in_a_batch_does_not_stop_the_good_ones(
    client: AsyncClient, db: AsyncEngine, alice: Account
) -> None:
    response = await client.post(
        "/webhooks/mailjet", json=["junk", {"event": 1}, blocked(alice.email)], auth=AUTH
    )

    assert response.json() == {"disabled": 1, "ignored": 2}
    assert await _enabled(db, alice) is False


async def test_a_grouped_batch_larger_than_any_app_request_is_read(
    client: AsyncClient, db: AsyncEngine, alice: Account
) -> None:
    # Mailjet groups callbacks: hundreds of events in one request, far over the 64 KiB bound
    # of the app's own requests.
    batch = [soft_bounce(f"someone-{n}@example.com") for n in range(600)]
    batch.append(hard_bounce(alice.email))
    body = json.dumps(batch)
    assert len(body) > 128 * 1024

    response = await client.post(
        "/webhooks/mailjet",
        content=body,
        headers={"content-type": "application/json"},
        auth=AUTH,
    )

    assert response.status_code == 200, response.text
    assert await _enabled(db, alice) is False


async def test_outside_the_webhooks_the_app_bound_on_bodies_holds(client: AsyncClient) -> None:
    title = "x" * (128 * 1024)

    response = await client.post("/auth/login", json={"email": "a@example.com", "password": title})

    assert_problem(response, 413)
