"""`python -m relay`: publish the outbox to Kafka until SIGTERM, then exit 0.

`python -m relay status` prints which relay owns which partitions and the backlog of each.
`python -m relay trace EVENT_ID` and `python -m relay parked ...` are the operator commands
(`relay/operator.py`).
"""

from __future__ import annotations

import sys
from functools import partial

from app.core.logging import configure_logging
from app.core.process import run_until_signalled, tune_gc
from app.core.tracing import configure_tracing
from relay.operator import run
from relay.service import serve
from relay.settings import RelaySettings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settings = RelaySettings()
    if args[:1] == ["status"]:
        from relay.status import main as status  # noqa: PLC0415 - only this command needs it

        status(settings)
        return
    if args:
        configure_logging(settings, service="relay-operator")
        sys.exit(run(args) or 0)
    configure_logging(settings, service="relay")
    # Its statements run per batch, outside any event's trace: no database spans.
    configure_tracing(settings, service="relay", instrument_database=False)
    tune_gc()  # a batch allocates tens of thousands of objects (decision 0016)
    run_until_signalled(partial(serve, settings))


if __name__ == "__main__":
    main()
