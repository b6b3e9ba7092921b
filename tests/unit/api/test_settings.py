"""The API refuses to run in production with a guessable token secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import DEV_JWT_SECRET, ApiSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "too-short-for-production"])
def test_production_refuses_the_development_or_a_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        ApiSettings(app_env="production", jwt_secret=secret, unsubscribe_secret="u" * 48)


def test_production_accepts_a_long_random_secret() -> None:
    settings = ApiSettings(app_env="production", jwt_secret="r" * 48, unsubscribe_secret="u" * 48)

    assert settings.is_production


def test_cors_is_off_and_argon2_at_owasp_minimums_by_default() -> None:
    defaults = ApiSettings()

    assert defaults.cors_origins == []
    assert (
        defaults.argon2_memory_kib,
        defaults.argon2_time_cost,
        defaults.argon2_parallelism,
    ) == (19 * 1024, 2, 1)
