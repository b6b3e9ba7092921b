"""The shared core every service may import.

Event contracts (`events`) and their wire envelope (`envelope`), what writers put in the outbox
(`outbox`), the database engine and unit of work (`db`), models, the settings base, logging and
the clock; the plumbing of every long-running service: `/healthz` + `/metrics`
(`service_http`), run until SIGTERM (`process`), topics (`kafka`). Nothing here knows about HTTP
routes or about any one worker.
"""
