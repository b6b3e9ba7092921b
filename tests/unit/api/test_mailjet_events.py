"""Reading Mailjet's event callbacks: which events end the digest, and what is unreadable."""

from __future__ import annotations

from typing import Any

import pytest

from app.api.routes.webhooks import MAX_EVENTS, actionable, cause_of

pytestmark = pytest.mark.unit


def event(kind: str, email: str = "Ann@Example.com ", **fields: Any) -> dict[str, Any]:
    return {"event": kind, "time": 1433334653, "MessageID": 1, "email": email, **fields}


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (event("bounce", hard_bounce=True, blocked=False), "bounce"),
        (event("bounce", hard_bounce=False, blocked=False), None),
        (event("bounce", hard_bounce="true"), None),  # only the JSON boolean counts
        (event("blocked", error_related_to="recipient", error="user unknown"), "blocked"),
        (event("spam", source="JMRPP"), "spam"),
        (event("sent"), None),
        (event("open"), None),
        (event("click", url="https://example.com"), None),
        (event("unsub"), None),
        (event("something-new"), None),
    ],
)
def test_only_hard_bounces_blocked_addresses_and_spam_end_the_digest(
    payload: dict[str, Any], cause: str | None
) -> None:
    assert cause_of(payload) == cause


def test_addresses_are_normalised_as_registration_stores_them() -> None:
    found, unreadable = actionable(event("spam"))

    assert (found, unreadable) == ([("ann@example.com", "spam")], 0)


def test_a_batch_keeps_the_order_and_counts_what_it_could_not_read() -> None:
    batch = [
        event("spam", "a@x.io"),
        7,
        {"event": None},
        event("blocked", "b\x00@x.io"),
        event("open"),
    ]

    assert actionable(batch) == ([("a@x.io", "spam")], 3)


def test_an_oversized_batch_is_cut_and_the_rest_counted_as_unread() -> None:
    found, unreadable = actionable([event("open")] * (MAX_EVENTS + 5))

    assert (found, unreadable) == ([], 5)
