""".env.example names every setting a service reads, and nothing that nobody reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest
from pydantic_settings import BaseSettings

from app.core.settings import CommonSettings
from app.settings import ApiSettings
from mailer.settings import MailerSettings
from relay.settings import RelaySettings
from scheduler.settings import SchedulerSettings

pytestmark = pytest.mark.unit

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
SERVICE_SETTINGS: tuple[type[BaseSettings], ...] = (
    CommonSettings,
    ApiSettings,
    RelaySettings,
    SchedulerSettings,
    MailerSettings,
)
# Read by docker-compose.yml itself (image, ports, the PostgreSQL and Kafka containers).
COMPOSE_ONLY = frozenset(
    {
        "APP_IMAGE",
        "PUBLISH_ADDRESS",
        "FRONTEND_PORT",
        "MAILPIT_UI_PORT",
        "JAEGER_UI_PORT",
        "PROMETHEUS_PORT",
        "GRAFANA_PORT",
        "GRAFANA_ADMIN_PASSWORD",
        "PROMETHEUS_RETENTION",
        "POSTGRES_DB",
        "POSTGRES_PASSWORD",
        "DB_OWNER_PASSWORD",
        "DB_API_PASSWORD",
        "DB_SCHEDULER_PASSWORD",
        "DB_RELAY_PASSWORD",
        "DB_MAILER_PASSWORD",
        "KAFKA_TOPIC_PARTITIONS",
        "KAFKA_HEAP_OPTS",
        "KAFKA_CLUSTER_ID",
        "RELAY_REPLICAS",
        "APP_SUBNET",
        "FRONTEND_ADDRESS",
    }
)
_ENTRY = re.compile(r"^(?P<commented># )?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


class Entry(NamedTuple):
    name: str
    value: str
    commented: bool


def env_entries() -> list[Entry]:
    """`NAME=value` and `# NAME=value` lines of .env.example, in file order."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [
        Entry(m["name"], m["value"], m["commented"] is not None)
        for m in map(_ENTRY.match, lines)
        if m
    ]


def env_name(settings: type[BaseSettings], field_name: str) -> str:
    """The variable pydantic-settings reads for a field: prefix plus alias or name, upper-cased."""
    field = settings.model_fields[field_name]
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return (settings.model_config.get("env_prefix", "") + (alias or field_name)).upper()


def setting_names() -> set[str]:
    return {env_name(cls, name) for cls in SERVICE_SETTINGS for name in cls.model_fields}


def test_every_setting_of_every_service_is_in_env_example() -> None:
    documented = {entry.name for entry in env_entries()}
    assert sorted(setting_names() - documented) == []


def test_every_name_in_env_example_is_a_setting_or_read_by_compose() -> None:
    documented = {entry.name for entry in env_entries()}
    assert sorted(documented - setting_names() - COMPOSE_ONLY) == []


def test_each_commented_out_setting_shows_the_default_of_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = env_entries()
    active = {entry.name for entry in entries if not entry.commented}
    shown: dict[str, str] = {}
    for entry in entries:
        # The first commented line is the default; later ones are examples (the Mailjet block).
        if entry.commented and entry.name not in active:
            shown.setdefault(entry.name, entry.value)
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in shown.items():
        monkeypatch.setenv(name, value)

    differing: dict[str, str] = {}
    for cls in SERVICE_SETTINGS:
        settings = cls()
        for field_name, field in cls.model_fields.items():
            name = env_name(cls, field_name)
            # Without a default (SMTP_USERNAME) the line can only show a placeholder.
            default = field.get_default(call_default_factory=True)
            if name not in shown or default is None:
                continue
            if getattr(settings, field_name) != default:
                differing[name] = f"{shown[name]!r} is not the default {default!r}"
    assert differing == {}
