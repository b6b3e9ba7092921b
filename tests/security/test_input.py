"""Hostile input in every field: NUL, lone surrogates, overlong and malformed text are 4xx.

Each probe sends the bytes itself (a JSON `\\u0000` escape, a percent-encoded NUL), because
that is how they arrive from outside; none may reach PostgreSQL, and none may be a 500.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from pydantic import BaseModel

from app.api import schemas
from app.api.text import STORABLE
from tests.api.conftest import PASSWORD, Account, assert_problem

pytestmark = pytest.mark.security

#: JSON escapes, spelled as a client sends them: PostgreSQL stores neither character.
NUL, SURROGATE = "\\u0000", "\\ud800"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _json(template: str, bad: str) -> str:
    return template.replace("BAD", bad)


# (method, path, JSON body with BAD where the hostile text goes, the field named in the error)
REGISTER_EMAIL = '{"email": "aBAD@example.com", "password": "%s"}' % PASSWORD  # noqa: UP031
JSON_FIELDS = [
    ("POST", "/auth/register", REGISTER_EMAIL, "email"),
    ("POST", "/auth/register", '{"email": "a@example.com", "password": "longer BAD"}', "password"),
    ("POST", "/auth/login", '{"email": "aBAD@example.com", "password": "whatever"}', "email"),
    ("POST", "/auth/login", '{"email": "a@example.com", "password": "whatever BAD"}', "password"),
    ("POST", "/tasks", '{"title": "aBADb"}', "title"),
    ("PATCH", "/tasks/{task}", '{"title": "aBADb"}', "title"),
]
FORM_FIELDS = ["username", "password", "scope", "client_id", "client_secret"]


@pytest.fixture
async def task_url(client: AsyncClient, alice: Account) -> Callable[[str], str]:
    created = await client.post("/tasks", json={"title": "mine"}, headers=alice.headers)
    return lambda path: path.replace("{task}", created.json()["id"])


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    ("method", "path", "template", "field"),
    JSON_FIELDS,
    ids=[f"{m} {p} {f}" for m, p, _, f in JSON_FIELDS],
)
async def test_unstorable_characters_in_a_json_field_are_a_422_naming_it(  # noqa: PLR0917
    client: AsyncClient,
    alice: Account,
    task_url: Callable[[str], str],
    method: str,
    path: str,
    template: str,
    field: str,
    bad: str,
) -> None:
    response = await client.request(
        method,
        task_url(path),
        content=_json(template, bad),
        headers={**alice.headers, "content-type": "application/json"},
    )

    body = assert_problem(response, 422)
    # Login parses its JSON strictly, so a lone surrogate is already invalid JSON there.
    assert [e["loc"][-1] for e in body["errors"]] in ([field], ["body"])
    if bad == NUL:
        assert [e["loc"][-1] for e in body["errors"]] == [field]
        assert body["errors"][0]["type"] == "text_unstorable"
        assert "U+0000" in body["errors"][0]["msg"]


@pytest.mark.parametrize("field", FORM_FIELDS)
async def test_a_nul_in_any_field_of_the_login_form_is_a_422(
    client: AsyncClient, field: str
) -> None:
    form = {"username": "a@example.com", "password": "whatever it is"} | {field: "a\x00b"}

    response = await client.post("/auth/login", data=form)

    body = assert_problem(response, 422)
    assert [e["loc"][-1] for e in body["errors"]] == [field]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/auth/register", {"email": "a" * 400 + "@example.com", "password": PASSWORD}),
        ("POST", "/auth/register", {"email": "a@example.com", "password": "p" * 10_000}),
        ("POST", "/auth/login", {"email": "a" * 10_000, "password": "whatever it is"}),
        ("POST", "/tasks", {"title": "t" * 501}),
        ("POST", "/tasks", {"title": ["not", "text"]}),
        ("POST", "/tasks", {"title": {"$gt": ""}}),
        ("PATCH", "/tasks/{task}", {"done": "yes"}),
        ("PATCH", "/tasks/{task}", {"done": None}),
        ("PATCH", "/tasks/{task}", {"title": None}),
    ],
    ids=[
        "overlong-email", "overlong-password", "overlong-login-email", "overlong-title",
        "title-array", "title-object", "done-string", "done-null", "title-null",
    ],
)  # fmt: skip
async def test_overlong_or_mistyped_fields_are_a_422(  # noqa: PLR0917
    client: AsyncClient,
    alice: Account,
    task_url: Callable[[str], str],
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    response = await client.request(method, task_url(path), json=body, headers=alice.headers)

    assert_problem(response, 422)


@pytest.mark.parametrize(
    "query",
    [
        "done=%00",
        "done=maybe",
        "limit=%00",
        "limit=1e999",
        "limit=-1",
        "offset=99999999999999999999",
    ],
)
async def test_hostile_query_strings_are_a_422(
    client: AsyncClient, alice: Account, query: str
) -> None:
    response = await client.get(f"/tasks?{query}", headers=alice.headers)

    assert_problem(response, 422)


@pytest.mark.parametrize(
    "path", ["/tasks/%00", "/tasks/not-a-uuid", "/tasks/" + "f" * 5000, "/tasks/%ED%A0%80"]
)
async def test_hostile_task_ids_in_the_path_are_a_422(
    client: AsyncClient, alice: Account, path: str
) -> None:
    response = await client.patch(path, json={"done": True}, headers=alice.headers)

    assert_problem(response, 422)


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00", b'{"title": "a', b"[]", b"null", b'{"title": "\xed\xa0\x80"}'],
    ids=["binary", "truncated", "array", "null", "utf8-surrogate"],
)
async def test_bodies_that_are_not_the_json_object_asked_for_are_a_4xx(
    client: AsyncClient, alice: Account, content: bytes
) -> None:
    for path in ("/tasks", "/auth/login", "/auth/register"):
        response = await client.post(
            path, content=content, headers={**alice.headers, "content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (path, response.text)


def _string_fields(model: type[BaseModel]) -> list[tuple[str, list[Any]]]:
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        args = typing.get_args(annotation) if typing.get_origin(annotation) else ()
        if annotation is str or str in args:
            fields.append((name, info.metadata))
    return fields


REQUEST_MODELS = [
    model
    for model in vars(schemas).values()
    if isinstance(model, type)
    and issubclass(model, BaseModel)
    and model.__module__ == schemas.__name__
    and (issubclass(model, schemas.RequestModel) or model is schemas.TaskQuery)
    and model is not schemas.RequestModel
]


@pytest.mark.parametrize("model", REQUEST_MODELS, ids=lambda m: m.__name__)
def test_every_text_field_of_a_request_refuses_what_postgresql_cannot_store(
    model: type[BaseModel],
) -> None:
    unguarded = [name for name, metadata in _string_fields(model) if STORABLE not in metadata]

    assert unguarded == []


@pytest.mark.parametrize(
    ("registered", "typed"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("ada@bücher.de", "ada@xn--bcher-kva.de"),
        ("ada@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "ada@example.com"),
        ("u\u0301ser@example.com", "\u00faser@example.com"),
        ("STRASSE@example.com", "straße@example.com"),
    ],
    ids=["case", "idn-punycode", "fullwidth-domain", "nfd-local-part", "case-fold"],
)
async def test_look_alike_spellings_of_one_address_register_once_and_log_in_as_typed(
    client: AsyncClient,
    new_account: Callable[..., Awaitable[Account]],
    registered: str,
    typed: str,
) -> None:
    account = await new_account(email=registered)

    again = await client.post("/auth/register", json={"email": typed, "password": "other pass"})
    login_as_typed = await client.post(
        "/auth/login", json={"email": typed, "password": account.password}
    )
    login_as_registered = await client.post(
        "/auth/login", data={"username": registered, "password": account.password}
    )

    assert again.status_code == 201
    assert again.json()["id"] != account.id  # a stand-in: the address keeps its one account
    for login in (login_as_typed, login_as_registered):
        assert login.status_code == 200, login.text
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
        assert claims["sub"] == account.id
