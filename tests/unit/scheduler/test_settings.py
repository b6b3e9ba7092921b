"""The scheduler refuses a configuration it could only fail on at midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from scheduler.settings import SchedulerSettings

pytestmark = pytest.mark.unit


def test_defaults_follow_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIGEST_TIMEZONE", "DIGEST_CRON", "DIGEST_MAX_TITLES", "DIGEST_INCLUDE_EMPTY"):
        monkeypatch.delenv(name, raising=False)

    config = SchedulerSettings()

    assert (config.digest_timezone, config.digest_cron) == ("UTC", "*/15 * * * *")
    assert (config.digest_max_titles, config.digest_include_empty) == (50, True)


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_TIMEZONE", "Europe/Moscow")
    monkeypatch.setenv("DIGEST_CRON", "30 6 * * mon-fri")
    monkeypatch.setenv("DIGEST_INCLUDE_EMPTY", "false")

    config = SchedulerSettings()

    saturday = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)
    monday_morning = datetime(2026, 1, 5, 6, 30, tzinfo=ZoneInfo("Europe/Moscow"))
    assert config.trigger().get_next_fire_time(None, saturday) == monday_morning
    assert config.digest_include_empty is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("digest_timezone", "Mars/Olympus_Mons"),
        ("digest_cron", "every night"),
        ("digest_cron", "0 25 * * *"),
        ("digest_cron", "0 0 * * 1-5"),  # APScheduler 3 would read this as Tuesday-Saturday
        ("digest_max_titles", -1),
        ("digest_page_size", 0),
    ],
)
def test_a_bad_value_is_refused_at_start(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        SchedulerSettings.model_validate({field: value})
