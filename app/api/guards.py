"""ASGI guards around the app: a body limit, `no-store` responses and no exception left loose."""

from __future__ import annotations

import json

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.middleware import HttpMiddleware

log = structlog.get_logger(__name__)

PROBLEM_JSON = b"application/problem+json"


class BodyTooLargeError(HTTPException):
    """The request body is larger than the API accepts (a 413 through the one error mapping)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")


async def send_problem(send: Send, status: int, title: str, detail: str) -> None:
    """A problem response sent by hand, for layers outside FastAPI's exception handlers."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


class RequestLimitsMiddleware(HttpMiddleware):
    """Refuse headers over `max_header_bytes` (431) and a body over `max_bytes` (413).

    The body by its Content-Length at once, or as it streams in. The API's bodies are tiny (a
    title is at most 500 characters); without this a client talking to the API directly could
    make it buffer any amount of memory. The headers are counted here because httptools, which
    uvicorn runs for speed, bounds none (behind nginx they never get this far).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_header_bytes: int,
        larger: tuple[tuple[str, int], ...] = (),
    ) -> None:
        super().__init__(app)
        self.default_max_bytes = max_bytes
        self.max_header_bytes = max_header_bytes
        #: (path prefix, limit) pairs for the few routes whose bodies are legitimately larger.
        self.larger = larger

    def max_bytes_for(self, path: str) -> int:
        """The body limit of a path: the default, or the larger one of its prefix."""
        for prefix, limit in self.larger:
            if path.startswith(prefix):
                return limit
        return self.default_max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_bytes = self.max_bytes_for(scope["path"])
        if sum(len(name) + len(value) for name, value in scope["headers"]) > self.max_header_bytes:
            detail = f"The request headers are larger than {self.max_header_bytes} bytes"
            await send_problem(send, 431, "Request Header Fields Too Large", detail)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            detail = f"The request body is larger than {max_bytes} bytes"
            await send_problem(send, 413, "Content Too Large", detail)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLargeError(max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class NoStoreMiddleware(HttpMiddleware):
    """`Cache-Control: no-store` on every response that does not say otherwise.

    API responses carry tokens and private tasks: no browser or shared cache may keep them.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_no_store)


class UnexpectedErrorMiddleware(HttpMiddleware):
    """A bug is a logged 500, and the exception stops here.

    Starlette's outermost layer re-raises after its 500, and the server then closes the
    connection; behind nginx's keep-alive pool that closed connection turned into a 502 for
    the next, unrelated request. Caught here, the server sees a finished response and keeps
    the connection. Only a response that had already started is left to fail (and close).
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            log.exception("unhandled_error", error_type=type(exc).__name__)
            if started:
                raise
            await send_problem(send, 500, "Internal Server Error", "Internal server error")
