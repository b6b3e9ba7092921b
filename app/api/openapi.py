"""The OpenAPI document, corrected where FastAPI cannot express the API on its own."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.errors import PROBLEM_JSON

ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {"description": "Always `Bearer`", "schema": {"type": "string"}},
    },
    "429": {
        "Retry-After": {
            "description": "Seconds until logins for this email or address are accepted",
            "schema": {"type": "integer", "minimum": 1},
        },
    },
}


def install_openapi(app: FastAPI) -> None:
    """Error bodies are `application/problem+json` (FastAPI would say `application/json`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            for operation in _operations(schema):
                for status, response in operation.get("responses", {}).items():
                    if status >= "400" and "application/json" in response.get("content", {}):
                        content = response["content"]
                        content[PROBLEM_JSON] = content.pop("application/json")
                        response.setdefault("headers", {}).update(ERROR_HEADERS.get(status, {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in schema.get("paths", {}).values() for op in path.values()]
