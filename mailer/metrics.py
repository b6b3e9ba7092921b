"""Prometheus metrics of one mailer process, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class MailerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "mailer_messages_total",
            "Messages finished, by outcome (sent, duplicate, ignored, dead_lettered)",
            ["outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "mailer_retries_total",
            "Retries after a transient failure, by kind (smtp, database, dead_letter)",
            ["kind"],
            registry=registry,
        )
        self.in_flight = Gauge("mailer_in_flight", "Messages being handled", registry=registry)
        self.commits = Counter("mailer_commits_total", "Offset commits", registry=registry)
        # One series per assigned partition of the topic: bounded by its partition count.
        self.lag = Gauge(
            "mailer_consumer_lag",
            "Records on the partition not yet handled to the end (log end minus done)",
            ["partition"],
            registry=registry,
        )
