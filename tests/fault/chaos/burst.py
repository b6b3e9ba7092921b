"""A burst of work to crash into: hundreds of digests written at once by one scheduler run.

The steady load alone leaves the relay and the mailer idle most of the time; a kill then lands
between batches and proves little. A burst gives the kill a batch to interrupt.
"""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import create_engine, text

from tests.support.processes import Deployment, sync_url
from tests.support.smtp import Received

BURST_DOMAIN = "burst.example.com"
BURST_DAY = "2029-06-01"
BURST_USERS = 500


def is_burst_mail(mail: Received) -> bool:
    return any(r.endswith(f"@{BURST_DOMAIN}") for r in mail.rcpt_tos)


class Burst:
    """Adds `users` users straight into PostgreSQL, runs one digest for them, then removes them."""

    def __init__(self, deployment: Deployment, *, users: int = BURST_USERS) -> None:
        self._deployment = deployment
        self._users = users
        self._thread = threading.Thread(target=self._run, name="chaos-burst", daemon=True)
        self.exit_code: int | None = None

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join(timeout=120)

    def _run(self) -> None:
        engine = create_engine(sync_url(self._deployment.database_url))
        ids = [uuid.uuid4() for _ in range(self._users)]
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO users (id, email, password_hash) VALUES (:id, :email, 'x')"),
                    [{"id": i, "email": f"{i.hex[:12]}@{BURST_DOMAIN}"} for i in ids],
                )
            self.exit_code = self._deployment.run_digest(BURST_DAY)
            with engine.begin() as conn:  # so the steady digest runs stay small afterwards
                conn.execute(
                    text("DELETE FROM users WHERE email LIKE :d"), {"d": f"%@{BURST_DOMAIN}"}
                )
        finally:
            engine.dispose()
