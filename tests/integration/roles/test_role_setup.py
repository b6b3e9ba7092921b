"""The deployment path of the roles: the first-start script, an owner-run migration, downgrade."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, exc, make_url, text

from tests.integration.roles.test_service_roles import ROLE_LIMITS
from tests.support.migrations import downgrade, empty_database, upgrade
from tests.support.services import missing

pytestmark = pytest.mark.integration

ROLES_SCRIPT = Path(__file__).resolve().parents[3] / "compose" / "postgres" / "service-roles.psql"
GRANTS_OF_SERVICE_ROLES = """
SELECT count(*) FROM information_schema.role_table_grants
WHERE grantee IN ('todo_api', 'todo_scheduler', 'todo_relay', 'todo_mailer')
"""


@pytest.fixture
def scratch_url(admin_url: str) -> Iterator[str]:
    with empty_database(admin_url, "todo_roles") as url:
        yield url


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text(sql))
    finally:
        engine.dispose()


def test_downgrading_the_roles_migration_revokes_every_grant_and_upgrading_restores_them(
    scratch_url: str,
) -> None:
    upgrade(scratch_url)
    granted = _scalar(scratch_url, GRANTS_OF_SERVICE_ROLES)

    downgrade(scratch_url, "0002")
    assert _scalar(scratch_url, GRANTS_OF_SERVICE_ROLES) == 0
    upgrade(scratch_url)  # the roles exist now: creating them again must be a no-op

    assert isinstance(granted, int)
    assert granted > 0
    assert _scalar(scratch_url, GRANTS_OF_SERVICE_ROLES) == granted


def test_the_first_start_script_and_an_owner_run_migration_give_each_service_its_login(
    scratch_url: str,
) -> None:
    psql = shutil.which("psql")
    if psql is None:
        missing("psql is not installed (apt-get install postgresql-client)")
    url = make_url(scratch_url)
    password = secrets.token_urlsafe(12)
    admin = url.set(drivername="postgresql", database="postgres")
    variables = [f"db={url.database}"] + [
        f"{who}_password={password}" for who in ("owner", "api", "scheduler", "relay", "mailer")
    ]
    command = [psql, "-X", "-q", admin.render_as_string(hide_password=False)]
    for variable in variables:
        command += ["-v", variable]
    subprocess.run([*command, "-f", str(ROLES_SCRIPT)], check=True, capture_output=True, timeout=60)

    def login(role: str) -> str:
        return url.set(username=role, password=password).render_as_string(hide_password=False)

    upgrade(login("todo_owner"))

    owners = _scalar(
        scratch_url,
        "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'",
    )
    assert owners == "todo_owner"
    assert _scalar(login("todo_api"), "SELECT count(*) FROM users") == 0
    # The superuser's script set the per-role limits that an owner-run migration cannot.
    assert _scalar(login("todo_api"), "SHOW statement_timeout") == "5s"
    assert _scalar(login("todo_api"), "SHOW lock_timeout") == "3s"
    with pytest.raises(exc.OperationalError, match="permission denied for database"):
        _scalar(login("todo_api").replace(f"/{url.database}", "/postgres"), "SELECT 1")
    with pytest.raises(exc.ProgrammingError, match="permission denied"):
        _scalar(login("todo_api"), "CREATE TEMP TABLE sneaky (id int)")
    with pytest.raises(exc.ProgrammingError, match="permission denied"):
        _scalar(login("todo_api"), "SELECT count(*) FROM processed_events")
    with pytest.raises(exc.ProgrammingError, match="permission denied"):
        _scalar(login("todo_api"), "CREATE TABLE sneaky (id int)")


def test_the_first_start_script_sets_the_same_role_limits_as_migration_0005() -> None:
    script = ROLES_SCRIPT.read_text()
    settings: dict[str, dict[str, str]] = {role: {} for role in ROLE_LIMITS.ROLE_SETTINGS}
    for role, name, value in re.findall(r"ALTER ROLE (\w+) SET (\w+) = '([^']*)';", script):
        settings[role][name] = value
    limits = dict(re.findall(r"ALTER ROLE (\w+) CONNECTION LIMIT (\d+);", script))

    assert settings == ROLE_LIMITS.ROLE_SETTINGS
    assert {role: int(n) for role, n in limits.items()} == ROLE_LIMITS.CONNECTION_LIMITS
