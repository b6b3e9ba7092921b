"""What the tests and the benchmarks share to run the real parts: processes, ports, an SMTP
sink, a Kafka reader, databases, and where PostgreSQL and Kafka come from.

- `services`: PostgreSQL and Kafka from the environment (or testcontainers), else skip/fail;
- `migrations`: fresh databases migrated with the product's Alembic migrations;
- `processes`: a supervisor for the natively run system (API, relays, mailers, scheduler);
- `relay_process`, `mailer_process`: one worker as a real child process;
- `smtp`: real SMTP servers that record and fail on demand; `tcp_proxy`: a cuttable link;
- `kafka`: read a topic to its end; `ports`: free ports and readiness checks;
- `digests`: digest events to feed the mailer.

Nothing here is a fixture: `conftest.py` files wrap these, and `bench/` imports them directly.
"""

from __future__ import annotations

from pathlib import Path

#: The repository's root, the working directory of every process a test starts.
ROOT = Path(__file__).resolve().parents[2]
