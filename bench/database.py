"""A database of the bench run's own, migrated with the product's migrations, then dropped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.migrations import migrated_database


def admin_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        msg = 'DATABASE_URL is not set: eval "$(scripts/services.sh env)" first'
        raise SystemExit(msg)
    return url


@contextmanager
def bench_database(prefix: str = "bench") -> Iterator[str]:
    """Yield the URL of a fresh database at the head migration; drop it afterwards."""
    with migrated_database(admin_url(), prefix) as url:
        yield url
