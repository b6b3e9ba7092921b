"""A database of the bench run's own, migrated with the product's migrations, then dropped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.migrations import migrated_database


def required_env(name: str) -> str:
    """A variable `scripts/services.sh env` exports; a clear exit when it is missing."""
    value = os.environ.get(name)
    if not value:
        msg = f'{name} is not set: eval "$(scripts/services.sh env)" first'
        raise SystemExit(msg)
    return value


def admin_url() -> str:
    return required_env("DATABASE_URL")


@contextmanager
def bench_database(prefix: str = "bench") -> Iterator[str]:
    """Yield the URL of a fresh database at the head migration; drop it afterwards."""
    with migrated_database(admin_url(), prefix) as url:
        yield url
