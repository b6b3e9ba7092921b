"""`GET /me`, `PATCH /me` and the zone at registration: validated, announced in the same commit."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.events import UserPreferencesChanged, decode_event
from tests.api.conftest import PASSWORD, Account, ClientFactory, assert_problem, outbox

pytestmark = pytest.mark.api


async def _preference_events(db: AsyncEngine) -> list[UserPreferencesChanged]:
    events = [decode_event(json.dumps(row.payload)) for row in await outbox(db)]
    return [event for event in events if isinstance(event, UserPreferencesChanged)]


async def test_a_new_account_gets_utc_and_the_digest_by_default(
    client: AsyncClient, alice: Account
) -> None:
    response = await client.get("/me", headers=alice.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "id": alice.id,
        "email": alice.email,
        "created_at": body["created_at"],
        "timezone": "UTC",
        "digest_enabled": True,
    }


async def test_registration_keeps_the_zone_it_is_given(client: AsyncClient) -> None:
    email = "tokyo@example.com"
    registered = await client.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "timezone": "Asia/Tokyo"},
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    me = await client.get("/me", headers=headers)

    assert me.json()["timezone"] == "Asia/Tokyo"


async def test_registration_without_a_zone_uses_the_servers_digest_timezone(
    make_client: ClientFactory,
) -> None:
    async with make_client(digest_timezone="Europe/Moscow") as client:
        await client.post("/auth/register", json={"email": "m@example.com", "password": PASSWORD})
        login = await client.post(
            "/auth/login", json={"email": "m@example.com", "password": PASSWORD}
        )
        me = await client.get(
            "/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )

    assert me.json()["timezone"] == "Europe/Moscow"


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "utc ", "Europe/Paris\x00", "Asia/Tokyo\n", "", "x" * 65, "../etc"],
)
async def test_registration_with_an_unknown_zone_is_a_422_and_creates_nobody(
    client: AsyncClient, db: AsyncEngine, zone: str
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "z@example.com", "password": PASSWORD, "timezone": zone}
    )

    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "timezone"]
    async with db.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM users")) == 0


async def test_patch_changes_the_zone_and_announces_it_in_the_same_transaction(
    client: AsyncClient, db: AsyncEngine, alice: Account
) -> None:
    response = await client.patch(
        "/me", headers=alice.headers, json={"timezone": "Pacific/Kiritimati"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == "Pacific/Kiritimati"
    assert response.json()["digest_enabled"] is True
    [event] = await _preference_events(db)
    assert str(event.user_id) == alice.id
    assert (event.timezone, event.digest_enabled, event.cause) == (
        "Pacific/Kiritimati",
        True,
        "settings",
    )
    assert (await client.get("/me", headers=alice.headers)).json()["timezone"] == (
        "Pacific/Kiritimati"
    )


async def test_patch_switches_the_digest_off_and_on_again(
    client: AsyncClient, db: AsyncEngine, alice: Account
) -> None:
    off = await client.patch("/me", headers=alice.headers, json={"digest_enabled": False})
    on = await client.patch("/me", headers=alice.headers, json={"digest_enabled": True})

    assert off.json()["digest_enabled"] is False
    assert on.json()["digest_enabled"] is True
    assert [e.digest_enabled for e in await _preference_events(db)] == [False, True]


async def test_a_patch_that_changes_nothing_announces_nothing(
    client: AsyncClient, db: AsyncEngine, alice: Account
) -> None:
    same = await client.patch(
        "/me", headers=alice.headers, json={"timezone": "UTC", "digest_enabled": True}
    )
    empty = await client.patch("/me", headers=alice.headers, json={})

    assert same.status_code == empty.status_code == 200
    assert await _preference_events(db) == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"timezone": "Nowhere/Special"}, ["body", "timezone"]),
        ({"timezone": "Europe/Berlin\x00"}, ["body", "timezone"]),
        ({"timezone": 5}, ["body", "timezone"]),
        ({"digest_enabled": "yes"}, ["body", "digest_enabled"]),
        ({"digest_enabled": None}, ["body"]),
        ({"email": "new@example.com"}, ["body", "email"]),
        ({"id": "00000000-0000-0000-0000-000000000000"}, ["body", "id"]),
    ],
)
async def test_patch_refuses_unknown_zones_and_fields_with_the_reason(
    client: AsyncClient, db: AsyncEngine, alice: Account, body: dict[str, Any], loc: list[str]
) -> None:
    response = await client.patch("/me", headers=alice.headers, json=body)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == loc
    assert problem["errors"][0]["msg"]
    assert await _preference_events(db) == []
    me = (await client.get("/me", headers=alice.headers)).json()
    assert (me["timezone"], me["digest_enabled"]) == ("UTC", True)


async def test_an_unknown_zone_is_explained_in_the_error(
    client: AsyncClient, alice: Account
) -> None:
    response = await client.patch("/me", headers=alice.headers, json={"timezone": "Atlantis"})

    assert "unknown time zone" in assert_problem(response, 422)["errors"][0]["msg"]


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_me_needs_a_token(client: AsyncClient, method: str) -> None:
    response = await client.request(method, "/me", json={})

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_me_of_a_deleted_user_is_a_401(
    client: AsyncClient, db: AsyncEngine, new_account: Callable[..., Awaitable[Account]]
) -> None:
    gone = await new_account()
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": gone.id})

    assert_problem(await client.get("/me", headers=gone.headers), 401)
    assert_problem(await client.patch("/me", headers=gone.headers, json={}), 401)


async def test_users_of_each_other_never_see_or_change_each_other(
    client: AsyncClient, alice: Account, bob: Account
) -> None:
    await client.patch("/me", headers=alice.headers, json={"timezone": "Asia/Kathmandu"})

    assert (await client.get("/me", headers=bob.headers)).json()["timezone"] == "UTC"
    assert (await client.get("/me", headers=bob.headers)).json()["id"] == bob.id
