"""Outbox relay: publishes committed outbox rows to Kafka, at least once, in per-user order."""
