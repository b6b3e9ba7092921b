"""Eventful TODO: the shared core (settings, database, models, event contracts) and the HTTP API."""
