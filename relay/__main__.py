"""`python -m relay`: publish the outbox to Kafka until SIGTERM, then exit 0."""

from __future__ import annotations

from functools import partial

from app.core.logging import configure_logging
from app.core.process import run_until_signalled
from app.core.tracing import configure_tracing
from relay.service import serve
from relay.settings import RelaySettings


def main() -> None:
    settings = RelaySettings()
    configure_logging(settings, service="relay")
    # Its statements run per batch, outside any event's trace: no database spans.
    configure_tracing(settings, service="relay", instrument_database=False)
    run_until_signalled(partial(serve, settings))


if __name__ == "__main__":
    main()
