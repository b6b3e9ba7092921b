"""The `setup` marker: tests of what a newcomer's first commands do on a fresh clone."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "setup: `make check` and `make dev` from a fresh clone, set-up included"
    )
