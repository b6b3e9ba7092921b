"""One-click unsubscribe (RFC 8058): a GET shows a confirm page, a POST switches the digest off."""

from __future__ import annotations

import json
import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.events import UserPreferencesChanged, decode_event
from app.core.unsubscribe import make_token
from app.settings import ApiSettings
from tests.api.conftest import Account, ClientFactory, outbox

pytestmark = pytest.mark.api

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _token(settings: ApiSettings, account: Account) -> str:
    return make_token(uuid.UUID(account.id), secret=settings.unsubscribe_secret)


async def _digest_enabled(db: AsyncEngine, account: Account) -> bool:
    async with db.connect() as conn:
        value = await conn.scalar(
            text("SELECT digest_enabled FROM users WHERE id = :id"), {"id": account.id}
        )
    return bool(value)


async def _preference_events(db: AsyncEngine) -> list[UserPreferencesChanged]:
    events = [decode_event(json.dumps(row.payload)) for row in await outbox(db)]
    return [event for event in events if isinstance(event, UserPreferencesChanged)]


async def test_the_one_click_post_switches_the_digest_off_and_announces_it(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account
) -> None:
    response = await client.post(f"/unsubscribe/{_token(api_settings, alice)}", data=ONE_CLICK)

    assert response.status_code == 200, response.text
    assert "unsubscribed" in response.text
    assert await _digest_enabled(db, alice) is False
    [event] = await _preference_events(db)
    assert (str(event.user_id), event.digest_enabled, event.cause) == (
        alice.id,
        False,
        "unsubscribe",
    )


async def test_a_second_one_click_post_is_a_200_that_changes_and_announces_nothing(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account
) -> None:
    url = f"/unsubscribe/{_token(api_settings, alice)}"
    first = await client.post(url, data=ONE_CLICK)
    second = await client.post(url, data=ONE_CLICK)

    assert first.status_code == second.status_code == 200
    assert len(await _preference_events(db)) == 1


async def test_a_multipart_one_click_post_works_too(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account
) -> None:
    response = await client.post(
        f"/unsubscribe/{_token(api_settings, alice)}",
        files={"List-Unsubscribe": (None, "One-Click")},
    )

    assert response.status_code == 200, response.text
    assert await _digest_enabled(db, alice) is False


async def test_only_the_owner_of_the_link_is_unsubscribed(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account, bob: Account
) -> None:
    await client.post(f"/unsubscribe/{_token(api_settings, alice)}", data=ONE_CLICK)

    assert await _digest_enabled(db, bob) is True


async def test_a_get_only_shows_a_confirm_form_and_changes_nothing(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account
) -> None:
    response = await client.get(f"/unsubscribe/{_token(api_settings, alice)}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<form method="post">' in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    assert "<script" not in page
    assert "style=" not in page
    assert await _digest_enabled(db, alice) is True
    assert await _preference_events(db) == []


def _tampered(token: str) -> list[str]:
    user_part, mac = token.split(".")
    other_user = make_token(uuid.uuid4(), secret="x" * 40).split(".")[0]
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    return [
        f"{user_part}.{flipped}",
        f"{other_user}.{mac}",
        token[:-1],
        token + "A",
        f"{user_part}.{mac.upper()}",
        "not-a-token",
        token.replace(".", "%00", 1),
    ]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_tampered_token_is_a_404_and_changes_nothing(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account, method: str
) -> None:
    for bad in _tampered(_token(api_settings, alice)):
        response = await client.request(method, f"/unsubscribe/{bad}", data=ONE_CLICK)
        assert response.status_code == 404, bad

    assert await _digest_enabled(db, alice) is True
    assert await _preference_events(db) == []


async def test_a_token_signed_with_another_secret_is_refused(
    client: AsyncClient, db: AsyncEngine, alice: Account
) -> None:
    forged = make_token(uuid.UUID(alice.id), secret="someone-else-s-secret-" + "z" * 20)

    response = await client.post(f"/unsubscribe/{forged}", data=ONE_CLICK)

    assert response.status_code == 404
    assert await _digest_enabled(db, alice) is True


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": {"List-Unsubscribe": "Maybe"}}, 422),
        ({"data": {"other": "x"}}, 422),
        ({"data": {}}, 415),
        ({"json": ONE_CLICK}, 415),
        ({"content": b"List-Unsubscribe=One-Click"}, 415),
    ],
)
async def test_a_post_without_the_one_click_body_changes_nothing(
    *,
    client: AsyncClient,
    db: AsyncEngine,
    api_settings: ApiSettings,
    alice: Account,
    kwargs: dict[str, object],
    status: int,
) -> None:
    response = await client.post(f"/unsubscribe/{_token(api_settings, alice)}", **kwargs)  # type: ignore[arg-type]

    assert response.status_code == status
    assert await _digest_enabled(db, alice) is True


async def test_the_link_of_a_deleted_account_is_a_404(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account
) -> None:
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": alice.id})

    response = await client.post(f"/unsubscribe/{_token(api_settings, alice)}", data=ONE_CLICK)

    assert response.status_code == 404
    assert await _preference_events(db) == []


async def test_the_settings_switch_the_digest_back_on_after_an_unsubscribe(
    client: AsyncClient, db: AsyncEngine, api_settings: ApiSettings, alice: Account
) -> None:
    await client.post(f"/unsubscribe/{_token(api_settings, alice)}", data=ONE_CLICK)
    me = await client.get("/me", headers=alice.headers)
    assert me.json()["digest_enabled"] is False

    back = await client.patch("/me", headers=alice.headers, json={"digest_enabled": True})

    assert back.json()["digest_enabled"] is True
    assert [e.cause for e in await _preference_events(db)] == ["unsubscribe", "settings"]


async def test_the_unsubscribe_needs_no_login(
    make_client: ClientFactory, db: AsyncEngine, api_settings: ApiSettings, alice: Account
) -> None:
    async with make_client() as anonymous:
        response = await anonymous.post(
            f"/unsubscribe/{_token(api_settings, alice)}", data=ONE_CLICK
        )

    assert response.status_code == 200
    assert "authorization" not in {k.lower() for k in response.request.headers}
