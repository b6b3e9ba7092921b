"""A 500 must not close the keep-alive connection: behind nginx the next user would get a 502."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI

from app.api.main import create_app
from app.settings import ApiSettings
from tests.support.ports import free_port

pytestmark = pytest.mark.security


@pytest.fixture
async def server_with_a_bug(api_settings: ApiSettings) -> AsyncIterator[int]:
    """The real app under uvicorn (httptools, as `python -m app` runs it) plus a failing route."""
    app: FastAPI = create_app(api_settings)

    @app.get("/bug")
    async def bug() -> None:
        msg = "a bug nobody anticipated"
        raise RuntimeError(msg)

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http="httptools", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    yield port
    server.should_exit = True
    await serving


def _exchange(port: int, paths: list[str]) -> list[bytes]:
    """Send the requests one after another on ONE connection; the status line of each answer."""
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        reader = conn.makefile("rb")
        for path in paths:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: api\r\n\r\n".encode())
            status = reader.readline()
            statuses.append(status.strip())
            length = 0
            while (line := reader.readline()) not in {b"\r\n", b""}:
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            reader.read(length)
    return statuses


async def test_after_a_500_the_same_connection_serves_the_next_request(
    server_with_a_bug: int,
) -> None:
    statuses = await asyncio.to_thread(_exchange, server_with_a_bug, ["/bug", "/healthz", "/bug"])

    assert statuses == [
        b"HTTP/1.1 500 Internal Server Error",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 500 Internal Server Error",
    ]
