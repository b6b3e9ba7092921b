"""In-memory stand-ins for the unit of work and a connection: they record what the domain
code did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Executable

from app.core.events import Event


class FakeConnection:
    """Answers `scalar` with `answer`; records each statement, its parameters and commits."""

    def __init__(self, answer: object = None) -> None:
        self.answer = answer
        self.executed: list[tuple[Executable, Mapping[str, Any]]] = []
        self.commits = 0

    async def scalar(self, statement: Executable, parameters: Mapping[str, Any]) -> object:
        self.executed.append((statement, parameters))
        return self.answer

    async def commit(self) -> None:
        self.commits += 1


class FakeSession:
    def __init__(self) -> None:
        self.added: list[object] = []
        self.deleted: list[object] = []

    def add(self, instance: object) -> None:
        self.added.append(instance)

    async def delete(self, instance: object) -> None:
        self.deleted.append(instance)


class FakeUnitOfWork:
    """Collects events like the real one; `commits` holds what each commit would have written."""

    def __init__(self) -> None:
        self.session = FakeSession()
        self._pending: list[Event] = []
        self.commits: list[list[Event]] = []

    def add_event(self, event: Event) -> None:
        self._pending.append(event)

    async def commit(self) -> None:
        self.commits.append(self._pending)
        self._pending = []
