"""`python -m mailer`: run until SIGTERM or SIGINT, then finish in-flight sends and exit 0.

`python -m mailer dlq ...` is the operator's command for the dead letters (`mailer/operator.py`).
"""

from __future__ import annotations

import sys

from app.core.logging import configure_logging
from app.core.process import run_until_signalled
from app.core.tracing import configure_tracing
from mailer.bootstrap import run_mailer
from mailer.operator import run
from mailer.settings import MailerSettings


def main() -> None:
    settings = MailerSettings()
    if len(sys.argv) > 1:
        configure_logging(settings, service="mailer-operator")
        sys.exit(run(sys.argv[1:]) or 0)
    configure_logging(settings, service="mailer")
    configure_tracing(settings, service="mailer")
    run_until_signalled(lambda stop: run_mailer(settings, stop=stop))


if __name__ == "__main__":
    main()
