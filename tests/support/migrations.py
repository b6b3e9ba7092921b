"""Create, migrate and drop test databases with the product's own Alembic migrations."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from alembic.config import Config
from sqlalchemy import Engine, create_engine, make_url, text

from alembic import command
from tests.support import ROOT


def alembic_config(url: str) -> Config:
    """The repository's alembic.ini, pointed at `url` as `alembic -x url=...` would be."""
    cfg = Config(str(ROOT / "alembic.ini"), cmd_opts=argparse.Namespace(x=[f"url={url}"]))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def _admin_engine(admin_url: str) -> Engine:
    url = make_url(admin_url).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def create_database(admin_url: str, name: str) -> None:
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def drop_database(admin_url: str, name: str) -> None:
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def empty_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Yield the URL of a fresh, empty database; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create_database(admin_url, name)
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin_url, name)


@contextmanager
def migrated_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Yield the URL of a fresh database at the head migration; drop it afterwards."""
    with empty_database(admin_url, prefix) as url:
        upgrade(url)
        yield url
