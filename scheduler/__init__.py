"""Scheduler: writes one daily digest request per user into the outbox."""
