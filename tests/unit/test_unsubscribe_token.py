"""The unsubscribe token: names one user, for one purpose, and survives no change at all."""

from __future__ import annotations

import uuid

import pytest

from app.core.unsubscribe import TOKEN_LENGTH, make_token, read_token
from app.settings import ApiSettings

pytestmark = pytest.mark.unit

SECRET = "unit-test-unsubscribe-secret-" + "t" * 20
USER = uuid.UUID("5f0c6a34-1f7e-4b8e-9d55-0c9a2f3e4b71")


def test_a_token_reads_back_as_its_user() -> None:
    token = make_token(USER, secret=SECRET)

    assert len(token) == TOKEN_LENGTH
    assert token.isascii()
    assert all(ch.isalnum() or ch in "-_." for ch in token)  # safe in a URL path as it is
    assert read_token(token, secret=SECRET) == USER


def test_the_same_user_always_gets_the_same_token_so_old_emails_keep_working() -> None:
    assert make_token(USER, secret=SECRET) == make_token(USER, secret=SECRET)
    assert make_token(USER, secret=SECRET) != make_token(uuid.uuid4(), secret=SECRET)


def test_every_single_character_change_is_refused() -> None:
    token = make_token(USER, secret=SECRET)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

    accepted = [
        (position, replacement)
        for position in range(len(token))
        for replacement in alphabet
        if replacement != token[position]
        and read_token(token[:position] + replacement + token[position + 1 :], secret=SECRET)
    ]

    assert accepted == []


@pytest.mark.parametrize(
    "token", ["", ".", "a" * TOKEN_LENGTH, "é" * TOKEN_LENGTH, "\x00" * TOKEN_LENGTH, "x.y"]
)
def test_malformed_tokens_are_refused_without_an_error(token: str) -> None:
    assert read_token(token, secret=SECRET) is None


def test_the_api_refuses_a_weak_unsubscribe_secret_outside_development() -> None:
    strong_jwt = "j" * 40
    with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
        ApiSettings(app_env="production", jwt_secret=strong_jwt)
    with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
        ApiSettings(app_env="production", jwt_secret=strong_jwt, unsubscribe_secret="x" * 31)
    assert ApiSettings(app_env="production", jwt_secret=strong_jwt, unsubscribe_secret=SECRET)


def test_the_webhook_credentials_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="together"):
        ApiSettings(mailjet_webhook_username="mailjet")
    assert (
        ApiSettings(
            mailjet_webhook_username="", mailjet_webhook_password=""
        ).mailjet_webhook_username
        is None
    )
