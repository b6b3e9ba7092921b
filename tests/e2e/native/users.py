"""A user of the native run, signed up and logged in through nginx like the web client does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    client: httpx.Client  # the test's, with the base URL through nginx
    auth: dict[str, str]

    def add(self, title: str) -> str:
        reply = self.client.post("/tasks", json={"title": title}, headers=self.auth)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def change(self, task_id: str, **fields: Any) -> None:
        reply = self.client.patch(f"/tasks/{task_id}", json=fields, headers=self.auth)
        assert reply.status_code == 200, reply.text

    def delete(self, task_id: str) -> None:
        reply = self.client.delete(f"/tasks/{task_id}", headers=self.auth)
        assert reply.status_code == 204, reply.text


def sign_up(client: httpx.Client) -> User:
    """Register a new account and log in, as the web client does."""
    email = f"native-{uuid.uuid4().hex[:10]}@example.com"
    created = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return User(uuid.UUID(created.json()["id"]), email, client, auth)
