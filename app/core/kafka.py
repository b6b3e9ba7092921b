"""Kafka administration every service shares: make sure a topic exists before using it."""

from __future__ import annotations

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = structlog.get_logger(__name__)


async def ensure_topic(
    admin: AIOKafkaAdminClient, topic: str, *, partitions: int, replication_factor: int
) -> bool:
    """Create `topic` unless it exists (another process may win the race); True if we made it.

    The caller owns the admin client, so a service that checks several topics opens one.
    """
    if topic in await admin.list_topics():
        return False
    response = await admin.create_topics([NewTopic(topic, partitions, replication_factor)])
    for name, code, *_ in response.topic_errors:
        if code == TopicAlreadyExistsError.errno:
            return False
        if code != 0:
            msg = f"creating topic {name!r} failed with error {code}"
            raise KafkaError(msg)
    log.info("topic created", topic=topic, partitions=partitions)
    return True


def admin_client(bootstrap_servers: str, *, request_timeout_s: float = 40.0) -> AIOKafkaAdminClient:
    """An admin client (not started) for these brokers."""
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(request_timeout_s * 1000)
    )
