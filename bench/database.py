"""A database of the bench run's own, migrated with the product's migrations, then dropped."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import make_url

from tests.migrations import create_database, drop_database, upgrade


def admin_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        msg = 'DATABASE_URL is not set: eval "$(scripts/services.sh env)" first'
        raise SystemExit(msg)
    return url


@contextmanager
def bench_database(prefix: str = "bench") -> Iterator[str]:
    """Yield the URL of a fresh database at the head migration; drop it afterwards."""
    admin = admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    create_database(admin, name)
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(admin, name)
