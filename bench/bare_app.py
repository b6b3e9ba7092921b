"""The framework ceiling: the same request shapes as `/tasks`, served by FastAPI without a database.

Run by uvicorn with the API's worker count (`uvicorn bench.bare_app:app --workers N`), loaded by
the same generator: whatever `/tasks` loses against it is ours (auth, SQL, the pool, the outbox).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI()


class NewTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)


class TaskOut(BaseModel):
    id: uuid.UUID
    title: str
    done: bool
    created_at: datetime
    done_at: datetime | None


TASKS = [
    TaskOut(
        id=uuid.uuid4(), title=f"task {i}", done=False, created_at=datetime.now(UTC), done_at=None
    )
    for i in range(20)
]


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/tasks", status_code=201)
async def create_task(body: NewTask) -> TaskOut:
    return TaskOut(
        id=uuid.uuid4(), title=body.title, done=False, created_at=datetime.now(UTC), done_at=None
    )


@app.get("/tasks")
async def list_tasks() -> list[TaskOut]:
    return TASKS
