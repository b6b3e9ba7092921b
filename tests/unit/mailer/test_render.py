"""The digest email: subject with date and counts, both parts, titles escaped in HTML."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from email.message import EmailMessage, Message
from zoneinfo import ZoneInfo

import pytest

from mailer.render import render_digest
from tests.unit.mailer.factories import digest

pytestmark = pytest.mark.unit


def fake_link(user_id: object) -> str:
    return f"https://todo.example/api/unsubscribe/{user_id}"


UTC = ZoneInfo("UTC")


def as_received(message: Message) -> EmailMessage:
    """Parsed back from its bytes, as a mail client would see it."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def render(*, titles: list[str], undone: int | None = None, done: int = 1) -> tuple[str, str, str]:
    event = digest(titles=titles, undone=undone, done=done)
    email = as_received(
        render_digest(
            event,
            day=None,
            mail_from="a@b.c",
            timezone=UTC,
            message_id_domain="todo",
            unsubscribe_url=fake_link,
        )
    )
    text, html = email.get_body(("plain",)), email.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(email["Subject"]), text.get_content(), html.get_content()


def test_the_subject_names_the_day_and_the_counts() -> None:
    subject, _, _ = render(titles=["a", "b", "c"], done=4)
    assert subject == "Your TODO digest for Thu 26 Nov 2026: 3 to do, 4 done"


def test_the_email_names_the_users_own_day_whatever_the_mailers_zone() -> None:
    # A Tokyo user's 26 November ends at 15:00 UTC on the 25th, still the 25th in Los Angeles.
    email = as_received(
        render_digest(
            digest(),
            day=date(2026, 11, 26),
            mail_from="a@b.c",
            timezone=ZoneInfo("America/Los_Angeles"),
            message_id_domain="x",
            unsubscribe_url=fake_link,
        )
    )
    text = email.get_body(("plain",))
    assert text is not None
    assert "Thu 26 Nov 2026" in str(email["Subject"])
    assert "Thursday 26 November 2026" in text.get_content()


def test_a_digest_recorded_without_its_day_is_dated_in_the_mailers_zone() -> None:
    event = digest()
    email = render_digest(
        event,
        day=None,
        mail_from="a@b.c",
        timezone=ZoneInfo("America/New_York"),
        message_id_domain="x",
        unsubscribe_url=fake_link,
    )
    assert "Wed 25 Nov 2026" in str(email["Subject"])


def test_html_escapes_hostile_titles_and_text_keeps_them_verbatim() -> None:
    _, text, html = render(titles=['<img src=x onerror="alert(1)">'])
    assert '<img src=x onerror="alert(1)">' in text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<img" not in html


def test_a_capped_title_list_says_how_many_more() -> None:
    _, text, html = render(titles=["one", "two"], undone=7)
    assert "and 5 more" in text
    assert "and 5 more" in html


def test_all_titles_listed_means_no_more_line() -> None:
    _, text, _ = render(titles=["one", "two"])
    assert "more" not in text
    assert "  - one\n  - two\n" in text


def test_nothing_undone_is_congratulated() -> None:
    _, text, _ = render(titles=[], done=3)
    assert "Everything is done" in text


def test_a_user_without_tasks_gets_a_friendly_subject() -> None:
    subject, text, _ = render(titles=[], done=0)
    assert subject.endswith("no tasks yet")
    assert "no tasks yet" in text


def test_a_non_ascii_sender_name_is_encoded_for_the_header() -> None:
    message = render_digest(
        digest(),
        day=None,
        mail_from="Événements <a@b.c>",
        timezone=UTC,
        message_id_domain="t",
        unsubscribe_url=fake_link,
    )
    assert message["From"].startswith("=?utf-8?")
    assert as_received(message)["From"] == "Événements <a@b.c>"


def test_the_message_id_is_derived_from_the_event_id() -> None:
    event = digest()
    first = render_digest(
        event,
        day=None,
        mail_from="a@b.c",
        timezone=UTC,
        message_id_domain="todo",
        unsubscribe_url=fake_link,
    )
    again = render_digest(
        event,
        day=None,
        mail_from="a@b.c",
        timezone=UTC,
        message_id_domain="todo",
        unsubscribe_url=fake_link,
    )
    assert first["Message-ID"] == again["Message-ID"] == f"<{event.event_id}@todo>"
    assert first["To"] == "ada@example.com"
