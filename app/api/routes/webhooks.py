"""`/webhooks/mailjet`: Mailjet's event callbacks switch the digest off for dead addresses.

Mailjet posts one event object, or an array of them when "group events" is on. A hard bounce
(`bounce` with `hard_bounce: true`), `blocked` and `spam` turn the digest off for that address
and announce it; every other event (sent, open, click, a soft bounce, ...) is acknowledged and
ignored. Anything unreadable is answered 200 as well, and logged: Mailjet retries a callback that
fails, so an error answer would only bring the same garbage back.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.exceptions import HTTPException

from app.api.deps import StateDep, UowDep
from app.api.errors import problem_responses
from app.preferences import Cause, disable_digest_for_emails

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
basic = HTTPBasic(auto_error=False, realm="mailjet")
log = structlog.get_logger(__name__)

#: Events per callback we act on; Mailjet groups far fewer than this.
MAX_EVENTS = 1000
MAX_BODY_BYTES = 1024 * 1024
EMAIL_MAX_LENGTH = 320


async def require_mailjet(
    credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)], state: StateDep
) -> None:
    """The callback carries the configured Basic credentials (compared in constant time)."""
    settings = state.settings
    expected_user = settings.mailjet_webhook_username
    expected_password = settings.mailjet_webhook_password
    if credentials is None or expected_user is None or expected_password is None:
        raise _unauthorized()
    user_ok = secrets.compare_digest(credentials.username.encode(), expected_user.encode())
    password_ok = secrets.compare_digest(
        credentials.password.encode(), expected_password.get_secret_value().encode()
    )
    if not (user_ok and password_ok):
        raise _unauthorized()


def _unauthorized() -> HTTPException:
    return HTTPException(
        401, "Not authenticated", headers={"WWW-Authenticate": 'Basic realm="mailjet"'}
    )


def cause_of(event: dict[str, Any]) -> Cause | None:
    """Why an event ends the digest for its address, or None when it does not."""
    kind = event.get("event")
    if kind == "bounce" and event.get("hard_bounce") is True:
        return "bounce"
    if kind == "blocked":
        return "blocked"
    if kind == "spam":
        return "spam"
    return None


def _address(event: dict[str, Any]) -> str | None:
    email = event.get("email")
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    if not 3 <= len(email) <= EMAIL_MAX_LENGTH or "@" not in email:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in email):
        return None
    return email


def actionable(document: object) -> tuple[list[tuple[str, Cause]], int]:
    """The (address, cause) pairs to act on, and how many events were unreadable."""
    events = document if isinstance(document, list) else [document]
    found: list[tuple[str, Cause]] = []
    unreadable = 0
    for event in events[:MAX_EVENTS]:
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            unreadable += 1
            continue
        cause = cause_of(event)
        if cause is None:
            continue
        email = _address(event)
        if email is None:
            unreadable += 1
            continue
        found.append((email, cause))
    return found, unreadable + max(len(events) - MAX_EVENTS, 0)


@router.post(
    "/mailjet",
    dependencies=[Depends(require_mailjet)],
    responses=problem_responses(401),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
        }
    },
)
async def mailjet_events(request: Request, uow: UowDep) -> dict[str, int]:
    """Mailjet's event callback (one event or a batch); always 200 once authenticated."""
    body = await request.body()
    try:
        if len(body) > MAX_BODY_BYTES:
            raise ValueError("body too large")
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        log.warning("mailjet callback ignored: not JSON", error=str(error)[:200], size=len(body))
        return {"disabled": 0, "ignored": 1}
    found, unreadable = actionable(document)
    if unreadable:
        log.warning("mailjet callback: unreadable events ignored", count=unreadable)
    disabled = await disable_digest_for_emails(uow=uow, emails=found)
    log.info("mailjet callback", actionable=len(found), disabled=disabled)
    return {"disabled": disabled, "ignored": unreadable}
