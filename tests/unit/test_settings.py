"""Settings come from the environment and refuse unsafe secrets outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.settings import AppEnv
from app.settings import DEV_JWT_SECRET, ApiSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("unset", [None, ""], ids=["absent", "empty"])
def test_development_without_a_secret_makes_a_random_one_per_start(
    monkeypatch: pytest.MonkeyPatch, unset: str | None
) -> None:
    if unset is None:
        monkeypatch.delenv("JWT_SECRET", raising=False)
    else:
        monkeypatch.setenv("JWT_SECRET", unset)
    monkeypatch.setenv("APP_ENV", "development")
    first, second = ApiSettings(), ApiSettings()

    assert first.jwt_secret_generated
    assert len(first.jwt_secret) >= 32
    assert first.jwt_secret != second.jwt_secret


@pytest.mark.parametrize("env", ["development", "production"])
def test_the_once_published_development_secret_is_refused_everywhere(
    monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv("APP_ENV", env)
    monkeypatch.setenv("JWT_SECRET", DEV_JWT_SECRET)
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "u" * 48)
    with pytest.raises(ValidationError, match="published"):
        ApiSettings()


def test_production_refuses_to_run_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "u" * 48)
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        ApiSettings()


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "u" * 48)
    monkeypatch.setenv("JWT_SECRET", "too-short")
    with pytest.raises(ValidationError, match="at least 32"):
        ApiSettings()


def test_production_accepts_a_long_random_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 48)
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "u" * 48)
    settings = ApiSettings()
    assert settings.app_env is AppEnv.PRODUCTION
    assert settings.is_production


def test_database_url_and_kafka_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@db.local:6543/todo")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    settings = ApiSettings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db.local:6543/todo"
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
