"""Configuration from the environment only: the base every service's settings class extends."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, PostgresDsn
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 32


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class CommonSettings(BaseSettings):
    """Settings every process shares: where PostgreSQL and Kafka are, and how to log."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    app_env: AppEnv = AppEnv.DEVELOPMENT
    database_url: Annotated[
        PostgresDsn,
        Field(description="SQLAlchemy URL, postgresql+psycopg://user:password@host:port/db"),
    ] = PostgresDsn("postgresql+psycopg://todo:todo@127.0.0.1:5432/todo")
    db_pool_size: Annotated[
        int,
        Field(
            ge=1,
            le=200,
            description="Connections kept per pool (opened on demand); the API has two pools, "
            "one for transactions and one for one-statement writes",
        ),
    ] = 16
    db_max_overflow: Annotated[
        int,
        Field(
            ge=0,
            le=200,
            description="Extra connections opened under load and closed again; 0 makes a busy "
            "process wait for a pooled one instead of paying a new connection per request",
        ),
    ] = 0
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "events"
    log_level: str = "INFO"
    log_json: Annotated[bool, Field(description="One JSON object a line (containers)")] = True
    otel_exporter_otlp_endpoint: Annotated[
        str | None,
        Field(
            description="Base URL of an OTLP/HTTP trace receiver, e.g. http://jaeger:4318; "
            "unset, nothing is traced or exported (app.core.tracing)"
        ),
    ] = None

    @property
    def is_production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @property
    def sqlalchemy_url(self) -> str:
        return str(self.database_url)
