"""Process-level behaviour: health, request ids, CORS, OpenAPI and the shared error shape."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Account, ClientFactory, assert_problem

pytestmark = pytest.mark.api


async def test_healthz_says_ok(client: AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_says_ok_when_the_database_answers(client: AsyncClient) -> None:
    assert (await client.get("/readyz")).json() == {"status": "ok"}


async def test_readyz_is_503_when_the_database_is_unreachable(
    make_client: ClientFactory, database_url: str
) -> None:
    missing = make_url(database_url).set(database="no_such_database_for_readyz")

    async with make_client(database_url=missing.render_as_string(hide_password=False)) as client:
        assert_problem(await client.get("/readyz"), 503)
        assert (await client.get("/healthz")).status_code == 200


async def test_a_connection_lost_under_the_pool_is_a_503_and_the_next_request_works(
    client: AsyncClient, alice: Account, db: AsyncEngine
) -> None:
    # The pool does not ping on checkout: as after a PostgreSQL restart, the first request on a
    # dead connection fails cleanly, the pool is invalidated, and the next one reconnects.
    # Both of the API's pools (transactions, one-statement reads and writes) hold an open
    # connection: a PATCH runs in a transaction, POST and GET /tasks are one statement each.
    unchanged = {"digest_enabled": True}
    assert (await client.patch("/me", json=unchanged, headers=alice.headers)).status_code == 200
    before = await client.post("/tasks", json={"title": "before"}, headers=alice.headers)
    assert before.status_code == 201
    async with db.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
        )

    body = assert_problem(
        await client.post("/tasks", json={"title": "lost"}, headers=alice.headers), 503
    )

    assert "unavailable" in body["detail"]
    retry = await client.post("/tasks", json={"title": "retried"}, headers=alice.headers)
    assert retry.status_code == 201
    # The other pool notices its dead connection the same way, once.
    assert_problem(await client.patch("/me", json=unchanged, headers=alice.headers), 503)
    assert (await client.patch("/me", json=unchanged, headers=alice.headers)).status_code == 200
    titles = [t["title"] for t in (await client.get("/tasks", headers=alice.headers)).json()]
    assert titles == ["before", "retried"]


async def test_every_response_carries_a_request_id(client: AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_plain_incoming_request_id_is_kept_and_an_unsafe_one_replaced(
    client: AsyncClient,
) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "edge-1234.abc"})
    replaced = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})

    assert kept.headers["x-request-id"] == "edge-1234.abc"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"


async def test_cors_is_off_by_default(client: AsyncClient) -> None:
    response = await client.options(
        "/tasks",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert "access-control-allow-origin" not in response.headers


async def test_configured_cors_origins_are_allowed_and_see_the_count_headers(
    make_client: ClientFactory,
) -> None:
    async with make_client(cors_origins=["https://todo.example"]) as client:
        preflight = await client.options(
            "/tasks",
            headers={"Origin": "https://todo.example", "Access-Control-Request-Method": "GET"},
        )
        simple = await client.get("/healthz", headers={"Origin": "https://todo.example"})

    assert preflight.headers["access-control-allow-origin"] == "https://todo.example"
    exposed = simple.headers["access-control-expose-headers"].lower().split(", ")
    assert {"x-total-count", "x-open-count", "x-done-count"} <= set(exposed)


async def test_unknown_paths_and_methods_use_the_error_shape(client: AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404)
    assert_problem(await client.put("/tasks"), 405)


async def test_openapi_documents_every_endpoint_and_the_bearer_scheme(
    client: AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()

    assert {(path, method) for path, ops in schema["paths"].items() for method in ops} == {
        ("/auth/register", "post"),
        ("/auth/login", "post"),
        ("/tasks", "get"),
        ("/tasks", "post"),
        ("/tasks/{task_id}", "patch"),
        ("/tasks/{task_id}", "delete"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/me", "get"),
        ("/me", "patch"),
        ("/unsubscribe/{token}", "get"),
        ("/unsubscribe/{token}", "post"),
        ("/webhooks/mailjet", "post"),
    }
    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "auth/login"
    login_body = schema["paths"]["/auth/login"]["post"]["requestBody"]["content"]
    assert set(login_body) == {"application/json", "application/x-www-form-urlencoded"}
    assert schema["paths"]["/tasks"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]


async def test_the_interactive_docs_are_served(client: AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_behind_a_proxy_prefix_the_docs_find_their_schema(
    make_client: ClientFactory,
) -> None:
    async with make_client(root_path="/api") as client:
        docs = await client.get("/docs")
        # As uvicorn passes it: the path still carries the prefix (ASGI's root_path rule).
        init = await client.get("/api/docs-assets/swagger-init.js")

    # Relative URLs: from /api/docs they resolve to /api/openapi.json and /api/docs-assets/.
    assert 'src="docs-assets/swagger-ui-bundle.js"' in docs.text
    assert 'url: "openapi.json"' in init.text
