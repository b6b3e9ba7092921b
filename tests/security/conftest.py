"""The attack suite's targets: the API in-process, and the production posture as processes.

The production posture is what an outsider meets: `python -m app` with `APP_ENV=production`, a
strong secret, connected as the API's own PostgreSQL role, behind the project's nginx
(scripts/nginx.sh), each on a free loopback port.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tests
    alice,
    api_settings,
    bob,
    client,
    make_client,
    new_account,
)
from tests.support.ports import free_port
from tests.support.processes import add_nginx, api_argv, base_env, http_ok, running_system
from tests.support.services import missing

JWT_SECRET = secrets.token_urlsafe(48)
#: Small limits, so a flood reaches them within a test.
LOGIN_MAX_FAILURES_PER_CLIENT = 5
REGISTER_MAX_PER_CLIENT = 3


@dataclass(frozen=True)
class Production:
    web_url: str  # nginx: /api/ in front of the API
    api_url: str  # the API itself, as a client inside the network would reach it
    jwt_secret: str


@pytest.fixture(scope="session")
def api_role_url(database_url: str) -> Iterator[str]:
    """A URL that logs in as a throwaway member of `todo_api` and acts as that role."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    login, password = f"todo_api_sec_{uuid.uuid4().hex[:8]}", secrets.token_hex(16)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE todo_api"))
    url = make_url(database_url).set(username=login, password=password)
    try:
        yield url.render_as_string(hide_password=False) + "?options=" + quote("-c role=todo_api")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {login}"))
        admin.dispose()


@pytest.fixture(scope="session")
def production(api_role_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """The API in its production posture and nginx in front of it, stopped at the end."""
    nginx = shutil.which(os.environ.get("NGINX_BIN", "nginx")) or shutil.which("/usr/sbin/nginx")
    if nginx is None:
        missing("nginx is not installed (apt-get install nginx-light)")
    api_port, web_port = free_port(), free_port()
    runtime = tmp_path_factory.mktemp("security-stack")
    api_env = base_env(
        APP_ENV="production",
        DATABASE_URL=api_role_url,
        API_HOST="127.0.0.1",
        API_PORT=str(api_port),
        API_ROOT_PATH="/api",
        API_FORWARDED_ALLOW_IPS="127.0.0.1",
        JWT_SECRET=JWT_SECRET,
        UNSUBSCRIBE_SECRET="security-unsubscribe-secret-" + "u" * 32,
        ARGON2_MEMORY_KIB="8192",
        ARGON2_TIME_COST="1",
        LOGIN_MAX_FAILURES_PER_CLIENT=str(LOGIN_MAX_FAILURES_PER_CLIENT),
        REGISTER_MAX_PER_CLIENT=str(REGISTER_MAX_PER_CLIENT),
        LOG_LEVEL="WARNING",
    )
    with running_system(runtime / "logs") as system:
        system.add("api", api_argv(), api_env, http_ok(f"http://127.0.0.1:{api_port}/readyz"))
        add_nginx(
            system,
            api_port=api_port,
            web_port=web_port,
            nginx_dir=runtime / "nginx",
            nginx_bin=nginx,
        )
        system.start("api", "nginx", timeout=60)
        yield Production(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{api_port}", JWT_SECRET)


@pytest.fixture
async def web(production: Production) -> AsyncIterator[httpx.AsyncClient]:
    """A client of nginx's /api/, as a browser on the internet would be."""
    async with httpx.AsyncClient(base_url=f"{production.web_url}/api", timeout=20) as http:
        yield http
