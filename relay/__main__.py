"""`python -m relay`: publish the outbox to Kafka until SIGTERM, then exit 0."""

from __future__ import annotations

from functools import partial

from app.core.logging import configure_logging
from app.core.process import run_until_signalled
from relay.service import serve
from relay.settings import RelaySettings


def main() -> None:
    settings = RelaySettings()
    configure_logging(settings, service="relay")
    run_until_signalled(partial(serve, settings))


if __name__ == "__main__":
    main()
