"""Every digest carries RFC 8058 one-click unsubscribe headers, a List-Id and a visible link."""

from __future__ import annotations

import email
import email.policy
import uuid
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from app.core.unsubscribe import UNSUBSCRIBE_PATH, read_token
from mailer.render import render_digest
from mailer.settings import MailerSettings
from tests.unit.mailer.factories import digest

pytestmark = pytest.mark.unit

SECRET = "unit-test-unsubscribe-secret-" + "s" * 20


def received(settings: MailerSettings) -> tuple[EmailMessage, uuid.UUID]:
    event = digest(titles=["Buy milk"])
    message = render_digest(
        event,
        day=None,
        mail_from="a@b.c",
        timezone=ZoneInfo("UTC"),
        message_id_domain="todo.example",
        unsubscribe_url=settings.unsubscribe_url,
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed, event.user_id


@pytest.fixture
def settings() -> MailerSettings:
    return MailerSettings(
        unsubscribe_secret=SECRET, app_public_url="https://todo.example/", smtp_host="x"
    )


def _link(message: EmailMessage) -> str:
    # A long header is folded before the URL; the folding white space is no part of the value.
    header = str(message["List-Unsubscribe"]).strip()
    assert header.startswith("<")
    assert header.endswith(">")
    return header[1:-1]


def test_the_one_click_headers_point_at_the_public_url_with_a_token_for_the_user(
    settings: MailerSettings,
) -> None:
    message, user_id = received(settings)

    link = _link(message)
    assert link.startswith(f"https://todo.example{UNSUBSCRIBE_PATH}")
    token = link.removeprefix(f"https://todo.example{UNSUBSCRIBE_PATH}")
    assert read_token(token, secret=SECRET) == user_id
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_list_id_names_the_digest_under_the_senders_domain(settings: MailerSettings) -> None:
    message, _ = received(settings)

    assert message["List-Id"] == "Eventful TODO daily digest <daily-digest.todo.example>"


def test_both_parts_show_the_same_unsubscribe_link(settings: MailerSettings) -> None:
    message, _ = received(settings)
    link = _link(message)

    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert link in text.get_content()
    assert f'<a href="{link}">Unsubscribe</a>' in html.get_content()


def test_a_token_from_another_secret_is_not_the_users(settings: MailerSettings) -> None:
    message, _ = received(settings)
    token = _link(message).rsplit("/", 1)[1]

    assert read_token(token, secret="another-secret-" + "o" * 30) is None


def test_the_mailer_refuses_the_development_secret_in_production() -> None:
    with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
        MailerSettings(app_env="production")
    with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
        MailerSettings(app_env="production", unsubscribe_secret="short")
    assert MailerSettings(app_env="production", unsubscribe_secret=SECRET).unsubscribe_secret
