"""`/unsubscribe/{token}`: the digest's one-click unsubscribe link (RFC 8058), without a login.

A GET only shows a page with a confirm button (link scanners and previews fetch GETs); the POST,
from that button or from a mailbox provider's one-click, switches the digest off. Pages are
plain HTML with no script and no inline style, so they work without JavaScript and under the
strict Content-Security-Policy nginx sends (the form posts to its own URL: form-action 'self').
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import StateDep, UowDep
from app.core.unsubscribe import read_token
from app.preferences import update_preferences

router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
# Both bodies RFC 8058 allows a mailbox provider to send; anything else is refused unread.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title} - Eventful TODO</title>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""
_CONFIRM = """<p>Stop receiving the daily TODO digest at this address?</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
<p>You can switch the digest back on at any time in the app's settings.</p>"""
_DONE = """<p>You will not receive the daily TODO digest any more.</p>
<p>Changed your mind? Switch it back on in the app's settings.</p>"""
_INVALID = """<p>This unsubscribe link is not valid. Copy the whole link from the email, or
switch the digest off in the app's settings.</p>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    # No user data goes into these pages, so there is nothing to escape.
    return HTMLResponse(
        _PAGE.format(title=title, body=body),
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _not_found() -> HTMLResponse:
    return _page("Link not valid", _INVALID, status=404)


@router.get("/{token}", response_class=HTMLResponse, responses={404: {"description": "Invalid"}})
async def confirm_page(token: str, state: StateDep) -> HTMLResponse:
    """A page with the confirm button; a GET changes nothing."""
    if read_token(token, secret=state.settings.unsubscribe_secret) is None:
        return _not_found()
    return _page("Unsubscribe from the daily digest", _CONFIRM)


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    responses={
        404: {"description": "Invalid link"},
        415: {"description": "Not a form body"},
        422: {"description": "Not a one-click"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": [ONE_CLICK_FIELD],
                        "properties": {ONE_CLICK_FIELD: {"const": ONE_CLICK_VALUE}},
                    }
                }
            },
        }
    },
)
async def unsubscribe(token: str, request: Request, state: StateDep, uow: UowDep) -> HTMLResponse:
    """Switch the digest off (`List-Unsubscribe=One-Click`); idempotent, announces the change."""
    user_id = read_token(token, secret=state.settings.unsubscribe_secret)
    if user_id is None:
        return _not_found()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        return _page("Not a one-click unsubscribe", _expected_body(), status=415)
    form = await request.form(max_files=0, max_fields=4)
    if form.get(ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
        return _page("Not a one-click unsubscribe", _expected_body(), status=422)
    user = await update_preferences(
        uow=uow, user_id=user_id, cause="unsubscribe", digest_enabled=False
    )
    if user is None:  # a genuine link of an account deleted since
        return _not_found()
    return _page("You are unsubscribed", _DONE)


def _expected_body() -> str:
    return f"<p>The request must carry the form field {ONE_CLICK_FIELD}={ONE_CLICK_VALUE}.</p>"
