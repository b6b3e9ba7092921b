"""Through the real nginx, against the production posture: addresses, headers, floods, limits."""

from __future__ import annotations

import asyncio
import socket
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import PASSWORD
from tests.security.conftest import (
    LOGIN_MAX_FAILURES_PER_CLIENT,
    REGISTER_MAX_PER_CLIENT,
    Production,
)

pytestmark = pytest.mark.security


async def test_a_spoofed_forwarded_for_does_not_escape_the_per_address_login_limit(
    web: httpx.AsyncClient, db: AsyncEngine
) -> None:
    statuses = []
    for n in range(LOGIN_MAX_FAILURES_PER_CLIENT + 3):
        # A new email each time (its own limit never trips) and a new "address" each time.
        response = await web.post(
            "/auth/login",
            json={"email": f"victim-{n}@example.com", "password": "guess"},
            headers={"X-Forwarded-For": f"10.0.{n}.1", "X-Real-IP": f"10.1.{n}.1"},
        )
        statuses.append(response.status_code)

    assert statuses == [401] * LOGIN_MAX_FAILURES_PER_CLIENT + [429] * 3


async def test_a_registration_flood_through_nginx_is_cut_off_whatever_address_it_claims(
    web: httpx.AsyncClient, db: AsyncEngine
) -> None:
    statuses = []
    for n in range(REGISTER_MAX_PER_CLIENT + 2):
        response = await web.post(
            "/auth/register",
            json={"email": f"bot-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},
        )
        statuses.append(response.status_code)

    assert statuses == [201] * REGISTER_MAX_PER_CLIENT + [429] * 2


@pytest.mark.parametrize("path", ["/tasks", "/auth/login", "/healthz", "/docs", "/nope"])
async def test_api_responses_through_nginx_carry_the_security_headers(
    web: httpx.AsyncClient, path: str
) -> None:
    response = await web.get(path)

    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["server"] == "nginx"  # no version
    if path != "/docs":
        assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]


async def test_hostile_requests_never_cost_another_user_a_5xx(
    web: httpx.AsyncClient, db: AsyncEngine
) -> None:
    hostile = [
        ("/auth/login", b'{"email": "a\\u0000@example.com", "password": "x"}'),
        ("/auth/register", b'{"email": "a@example.com", "password": "\\ud800\\ud800\\ud800x"}'),
        ("/auth/login", b"\xff\xfe"),
        ("/tasks", b'{"title": "a\\u0000b"}'),
    ]

    async def attacker() -> list[int]:
        return [
            (
                await web.post(path, content=body, headers={"content-type": "application/json"})
            ).status_code
            for _ in range(10)
            for path, body in hostile
        ]

    async def bystander() -> list[int]:
        return [(await web.get("/healthz")).status_code for _ in range(40)]

    attacks, bystanding = await asyncio.gather(attacker(), bystander())

    assert all(400 <= status < 500 for status in attacks), sorted(set(attacks))
    assert set(bystanding) == {200}


def _raw(port: int, request: bytes, *, close: bool = True) -> bytes:
    """Send bytes as they are; the status line that comes back (empty if the server hung up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        try:
            conn.sendall(request)
            if close:
                conn.shutdown(socket.SHUT_WR)
            return conn.makefile("rb").readline()
        except (ConnectionResetError, BrokenPipeError):
            return b""


@pytest.mark.parametrize("size", [64 * 1024, 16 * 2**20], ids=["64KiB", "16MiB"])
async def test_direct_to_the_api_a_huge_header_is_refused(
    production: Production, size: int
) -> None:
    port = int(production.api_url.rsplit(":", 1)[1])
    huge = b"GET /healthz HTTP/1.1\r\nHost: api\r\nX-Pad: " + b"a" * size + b"\r\n\r\n"
    normal = b"GET /healthz HTTP/1.1\r\nHost: api\r\nX-Pad: " + b"a" * 4 * 1024 + b"\r\n\r\n"

    refused = await asyncio.to_thread(_raw, port, huge)
    served = await asyncio.to_thread(_raw, port, normal)

    # 431 from the API, 400 from a parser that gave up on the head, or the connection closed.
    assert refused.split()[1:2] in ([b"431"], [b"400"], [])
    assert served.startswith(b"HTTP/1.1 200")


async def test_direct_to_the_api_a_huge_declared_body_is_refused_unread(
    production: Production,
) -> None:
    port = int(production.api_url.rsplit(":", 1)[1])
    declared = (
        b"POST /tasks HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n{" % (100 * 2**20)
    )

    status = await asyncio.to_thread(_raw, port, declared, close=False)

    assert status.startswith(b"HTTP/1.1 413")


async def test_through_nginx_only_the_webhooks_take_a_body_over_the_app_bound(
    web: httpx.AsyncClient,
) -> None:
    batch = b"[" + b",".join([b'{"event": "open", "email": "a@example.com"}'] * 3000) + b"]"
    assert 64 * 1024 < len(batch) < 1024 * 1024
    json_type = {"content-type": "application/json"}

    webhook = await web.post("/webhooks/mailjet", content=batch, headers=json_type)
    login = await web.post("/auth/login", content=batch, headers=json_type)

    # Past nginx and the API's own bound: refused only for want of Mailjet's credentials.
    assert webhook.status_code == 401, webhook.text
    assert login.status_code == 413


async def test_the_api_metrics_are_served_inside_the_network_but_not_through_nginx(
    web: httpx.AsyncClient, production: Production
) -> None:
    assert (await web.get("/metrics")).status_code == 404
    async with httpx.AsyncClient(base_url=production.api_url, timeout=10) as inside:
        direct = await inside.get("/metrics")
    assert direct.status_code == 200
    assert "api_requests_total" in direct.text
