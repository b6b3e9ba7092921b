"""The dependency graph keeps one unit of work per request, the one that holds the task's lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant

from app.api.deps import get_uow
from app.api.routes.tasks import change_task, remove_task

pytestmark = pytest.mark.unit


def walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from walk(sub)


@pytest.mark.parametrize("route", [change_task, remove_task], ids=lambda route: route.__name__)
def test_the_owned_task_and_the_route_resolve_to_one_cached_unit_of_work(
    route: Callable[..., Any],
) -> None:
    graph = list(walk(get_dependant(path="/tasks/{task_id}", call=route)))
    uows = [d for d in graph if d.call is get_uow]

    # Reached twice, through OwnedTask -> SessionDep and as the route's own UowDep; FastAPI
    # caches a dependency per request only if every path to it allows the cache.
    assert len(uows) >= 2
    assert all(d.use_cache for d in graph)
