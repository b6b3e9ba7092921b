"""The relay's configuration: environment variables only (`RELAY_*` plus the common ones)."""

from __future__ import annotations

from typing import Annotated

from psycopg.conninfo import make_conninfo
from pydantic import Field
from sqlalchemy import make_url

from app.core.settings import CommonSettings

#: Slots of `outbox.slot` (migration 0007); a partition is a slot modulo RELAY_PARTITIONS.
SLOTS = 256


class RelaySettings(CommonSettings):
    """The outbox relay (`python -m relay`)."""

    relay_batch_size: Annotated[
        int, Field(ge=1, le=10_000, description="Rows claimed, sent and marked per transaction")
    ] = 1000
    relay_poll_interval_seconds: Annotated[
        float, Field(gt=0, le=300, description="Fallback poll when no NOTIFY arrives")
    ] = 2.0
    relay_max_attempts: Annotated[
        int, Field(ge=1, le=1000, description="Permanent failures of one row before it is parked")
    ] = 5
    relay_publish_timeout_seconds: Annotated[
        float, Field(gt=0, description="Wait this long for a batch's acks, then call it an outage")
    ] = 15.0
    relay_backoff_initial_seconds: Annotated[float, Field(gt=0)] = 0.2
    relay_backoff_max_seconds: Annotated[float, Field(gt=0)] = 10.0
    relay_shutdown_grace_seconds: Annotated[
        float, Field(ge=0, description="On SIGTERM, let the current batch finish this long")
    ] = 10.0
    relay_partitions: Annotated[
        int,
        Field(
            ge=1,
            le=SLOTS,
            description="Outbox partitions shared out among the running relays by lease; every "
            "relay of a deployment must use the same number",
        ),
    ] = 32
    relay_lease_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=600,
            description="A partition whose owner stops renewing it moves to another relay after "
            "this long (database clock); also how long a paused relay may still publish",
        ),
    ] = 10.0
    relay_heartbeat_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=60,
            description="How often a relay renews its leases and rebalances; well under the lease",
        ),
    ] = 1.0
    relay_topic_partitions: Annotated[
        int, Field(ge=1, description="Partitions of a topic the relay has to create")
    ] = 6
    relay_topic_replication_factor: Annotated[int, Field(ge=1)] = 1
    relay_linger_ms: Annotated[
        int,
        Field(
            ge=0,
            le=1000,
            description="Producer linger; 0 is right here: a whole claimed batch is queued "
            "before the producer sends anything, so lingering would only add latency",
        ),
    ] = 0
    relay_claim_interval_ms: Annotated[
        int,
        Field(
            ge=0,
            le=1000,
            description="Claims start at most this often: under a stream of commits one "
            "transaction takes the rows of that interval; a quiet relay claims at once",
        ),
    ] = 6
    relay_claim_interval_max_ms: Annotated[
        int,
        Field(
            ge=0,
            le=1000,
            description="Under a stream of over 1,000 events a second the interval doubles up "
            "to this, so a claim takes more rows for a few ms of latency",
        ),
    ] = 40
    relay_max_batch_bytes: Annotated[
        int, Field(ge=1024, description="Producer batch size per partition (aiokafka)")
    ] = 256 * 1024
    relay_max_request_size: Annotated[
        int, Field(ge=1024, description="Largest message the producer will send")
    ] = 1024 * 1024
    relay_retention_seconds: Annotated[
        float, Field(ge=0, description="Published rows older than this are purged")
    ] = 7 * 24 * 3600.0
    relay_purge_interval_seconds: Annotated[float, Field(gt=0)] = 300.0
    relay_purge_batch_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    relay_gauge_interval_seconds: Annotated[
        float, Field(gt=0, description="How often the backlog gauges are refreshed")
    ] = 5.0
    relay_metrics_host: str = "127.0.0.1"
    relay_metrics_port: Annotated[
        int, Field(ge=0, le=65535, description="/metrics and /healthz; 0 turns them off")
    ] = 9108

    @property
    def libpq_conninfo(self) -> str:
        """DATABASE_URL as a libpq conninfo for plain psycopg connections (LISTEN, the lock)."""
        url = make_url(self.sqlalchemy_url)
        parts: dict[str, str | int | None] = {
            "host": url.host,
            "port": url.port,
            "dbname": url.database,
            "user": url.username,
            "password": url.password,
        }
        parts |= {k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()}
        return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
