"""The scheduler's configuration, from environment variables only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator, model_validator

from app.core.settings import CommonSettings


class SchedulerSettings(CommonSettings):
    """`python -m scheduler`: one daily digest request per user, written to the outbox."""

    digest_timezone: Annotated[
        str,
        Field(
            description="IANA zone of users who have none of their own, e.g. Europe/Moscow (the "
            "migration gives it to the users who existed before zones did; `run-once` without "
            "--date or --at reports on yesterday in it)"
        ),
    ] = "UTC"
    digest_cron: Annotated[
        str,
        Field(
            description="When the daemon wakes to write the digests of the users whose local "
            "midnight has passed since: a five-field crontab read in DIGEST_TIMEZONE, weekdays "
            "as names. Every 15 minutes catches every zone's midnight within a tick"
        ),
    ] = "*/15 * * * *"
    digest_max_titles: Annotated[
        int,
        Field(ge=0, le=500, description="Undone titles per digest (the counts stay exact)"),
    ] = 50
    digest_include_empty: Annotated[
        bool, Field(description="Send a digest to users who have no tasks at all")
    ] = True
    digest_page_size: Annotated[
        int,
        Field(ge=1, le=5000, description="Users per query and per transaction"),
    ] = 1000
    digest_grace_seconds: Annotated[
        int,
        Field(
            ge=0,
            le=23 * 3600,
            description="How far back a tick looks: midnights missed by at most this much (the "
            "daemon was down) are caught up on start; also the window of `run-once --at`",
        ),
    ] = 6 * 3600
    scheduler_heartbeat_file: Annotated[
        Path,
        Field(description="Touched while the scheduler runs; `python -m scheduler healthcheck`"),
    ] = Path("/tmp/scheduler.heartbeat")  # noqa: S108 - a liveness marker, not a secret
    scheduler_heartbeat_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    scheduler_metrics_host: str = "127.0.0.1"
    scheduler_metrics_port: Annotated[
        int, Field(ge=0, le=65535, description="/metrics and /healthz; 0 turns them off")
    ] = 0
    scheduler_stop_seconds: Annotated[
        float,
        Field(gt=0, le=300, description="On SIGTERM, how long a digest run in flight may finish"),
    ] = 8.0

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"unknown time zone {value!r}"
            raise ValueError(msg) from exc
        return value

    @field_validator("digest_cron")
    @classmethod
    def _weekdays_by_name(cls, value: str) -> str:
        fields = value.split()
        # APScheduler 3 counts weekdays from Monday = 0, crontab from Sunday = 0, and
        # from_crontab() does not translate (agronholm/apscheduler#286, fixed only in 4.x):
        # "1-5" would silently mean Tuesday to Saturday. Names mean the same in both.
        if len(fields) == 5 and any(ch.isdigit() for ch in fields[4]):
            msg = "DIGEST_CRON: write the day of week as names (mon-fri), not numbers"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _valid_cron(self) -> Self:
        self.trigger()  # raises ValueError on a malformed expression: fail at start, not at night
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.digest_timezone)

    def trigger(self) -> CronTrigger:
        """The digest's cron trigger, evaluated in the configured zone."""
        return CronTrigger.from_crontab(self.digest_cron, timezone=self.zone)
