"""Schemathesis over /openapi.json with every check, against the production posture.

The API runs as `python -m app` in a subprocess (the real server entry point) with
`APP_ENV=production`, a strong secret and the API's own database role. Every built-in check
runs: no 5xx, every response and header as documented, valid data accepted, invalid data
refused, `Allow` on a 405. Part of the attack suite (marker `security`) as well.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from sqlalchemy import create_engine, insert

from app.api.main import create_app
from app.core.models import User
from app.security import issue_token
from app.settings import ApiSettings
from tests.security.conftest import api_role_url  # noqa: F401 - the API's own role

pytestmark = [pytest.mark.api, pytest.mark.security]

load_all_checks()
ALL_CHECKS: Any = CHECKS.get_all()  # schemathesis types its registry looser than its callers
JWT_SECRET = "fuzz-secret-" + "f" * 40
STARTUP_SECONDS = 30

# Building the document needs no database, so the schema is known at collection time.
schema = schemathesis.openapi.from_dict(create_app(ApiSettings()).openapi())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(api_role_url: str) -> Iterator[str]:  # noqa: F811
    """`python -m app` in production, as the API's role, on a free port until the module ends."""
    port = _free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": api_role_url,
        # One fuzzer is one client: the registration limit is not what is under test here.
        "REGISTER_MAX_PER_CLIENT": "100000",
        "LOGIN_MAX_FAILURES_PER_CLIENT": "100000",
        "API_PORT": str(port),
        "API_WORKERS": "1",
        "JWT_SECRET": JWT_SECRET,
        "UNSUBSCRIBE_SECRET": "fuzz-unsubscribe-secret-" + "u" * 32,
        "ARGON2_MEMORY_KIB": "8192",
        "ARGON2_TIME_COST": "1",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "app"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, "the API exited during startup"
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()  # SIGTERM: the graceful shutdown the deployment relies on
        try:
            # uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit.
            assert process.wait(timeout=STARTUP_SECONDS) in {0, -signal.SIGTERM}
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise


@pytest.fixture(scope="module")
def bearer(database_url: str) -> dict[str, str]:
    """A real user's token, so the fuzzer gets past authentication."""
    user_id = uuid.uuid4()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            insert(User).values(
                id=user_id,
                email=f"fuzz-{user_id.hex[:8]}@example.com",
                password_hash="$argon2id$v=19$m=8192,t=1,p=1$unused$unused",
                created_at=datetime.now(UTC),
            )
        )
    engine.dispose()
    token = issue_token(user_id=user_id, secret=JWT_SECRET, ttl_seconds=3600)
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_honours_its_own_schema(
    case: schemathesis.Case, server: str, bearer: dict[str, str]
) -> None:
    case.call_and_validate(base_url=server, headers=bearer, checks=ALL_CHECKS)
