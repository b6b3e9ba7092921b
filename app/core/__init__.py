"""The shared core every service may import.

Event contracts, outbox writing, the database engine and unit of work, models, the settings
base, logging and the clock. Nothing here knows about HTTP or about any one worker.
"""
