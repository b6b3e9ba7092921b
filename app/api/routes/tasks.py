"""`/tasks`: the caller's tasks. The owner always comes from the token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import TypeAdapter

from app.api.deps import OwnedTask, StateDep, TokenUserId, UowDep
from app.api.errors import problem_responses, unauthorized
from app.api.schemas import TaskCreate, TaskOut, TaskPatch, TaskQuery
from app.core.db import PreparedStatements
from app.tasks import create_task, delete_task, list_tasks, update_task

#: Validate and serialise a page, or one new task, once, straight from the statement's values.
TASK_LIST = TypeAdapter(list[TaskOut])
TASK = TypeAdapter(TaskOut)

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=problem_responses(401, 422))


def _count_header(description: str) -> dict[str, object]:
    return {"description": description, "schema": {"type": "integer", "minimum": 0}}


@router.get(
    "",
    # Documents the body; the handler returns a `Response` it serialised, so FastAPI does not
    # validate the list a second time.
    response_model=list[TaskOut],
    responses={
        200: {
            "headers": {
                "X-Total-Count": _count_header("Tasks matching the filter, ignoring paging"),
                "X-Open-Count": _count_header("All the caller's open tasks, whatever the filter"),
                "X-Done-Count": _count_header("All the caller's done tasks, whatever the filter"),
            }
        }
    },
)
async def list_my_tasks(
    query: Annotated[TaskQuery, Query()], user_id: TokenUserId, state: StateDep
) -> Response:
    """The caller's tasks, oldest first, with the counts a screen shows in headers."""
    # One prepared statement on an autocommit connection: the owner check, the counts and the
    # page. A token whose user is gone gets no row and is a 401.
    async with state.autocommit.connect() as conn:
        listed = await list_tasks(
            await PreparedStatements.on(conn),
            user_id=user_id,
            done=query.done,
            limit=query.limit,
            offset=query.offset,
        )
    if listed is None:
        raise unauthorized("Invalid or expired token")
    tasks, counts = listed
    headers = {
        "X-Total-Count": str(counts.matching(query.done)),
        "X-Open-Count": str(counts.open),
        "X-Done-Count": str(counts.done),
    }
    body = TASK_LIST.dump_json(TASK_LIST.validate_python(tasks))
    return Response(body, media_type="application/json", headers=headers)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    # Documents the body; the handler serialises it once itself (decision 0013).
    response_model=TaskOut,
    responses=problem_responses(400),
)
async def add_task(body: TaskCreate, user_id: TokenUserId, state: StateDep) -> Response:
    """Add a task."""
    # One prepared statement on an autocommit connection: checks the owner, inserts the task
    # and its outbox row, commits. A token whose user is gone writes nothing and is a 401.
    async with state.autocommit.connect() as conn:
        task = await create_task(
            await PreparedStatements.on(conn),
            user_id=user_id,
            title=body.title,
            topic=state.settings.kafka_topic,
        )
    if task is None:
        raise unauthorized("Invalid or expired token")
    body_json = TASK.dump_json(TASK.validate_python(task, from_attributes=True))
    return Response(body_json, status_code=status.HTTP_201_CREATED, media_type="application/json")


@router.patch("/{task_id}", responses=problem_responses(400, 404))
async def change_task(body: TaskPatch, task: OwnedTask, uow: UowDep) -> TaskOut:
    """Rename, complete or reopen a task; fields left out stay as they are."""
    await update_task(uow=uow, task=task, title=body.title, done=body.done)
    return TaskOut.model_validate(task)


@router.delete(
    "/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def remove_task(task: OwnedTask, uow: UowDep) -> None:
    """Delete a task."""
    await delete_task(uow=uow, task=task)
