"""In-memory stand-ins for the unit of work: they record what the domain code did."""

from __future__ import annotations

from sqlalchemy import Executable

from app.events import Event


class FakeSession:
    def __init__(self) -> None:
        self.added: list[object] = []
        self.deleted: list[object] = []
        self.executed: list[Executable] = []

    async def execute(self, statement: Executable) -> None:
        self.executed.append(statement)

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
