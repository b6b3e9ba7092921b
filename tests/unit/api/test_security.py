"""Password hashing and tokens, without HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.security import (
    HASHING_NICENESS,
    InvalidTokenError,
    Passwords,
    issue_token,
    user_id_from_token,
)

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-" + "s" * 40


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(memory_kib=8 * 1024, time_cost=1, parallelism=1)


async def test_a_hash_verifies_its_password_and_no_other(passwords: Passwords) -> None:
    hashed = await passwords.hash("correct horse")

    assert hashed.startswith("$argon2id$")
    assert await passwords.verify(hashed, "correct horse")
    assert not await passwords.verify(hashed, "wrong horse")


async def test_verifying_without_a_hash_is_false(passwords: Passwords) -> None:
    assert not await passwords.verify(None, "anything")


async def test_a_corrupt_hash_is_false_not_an_error(passwords: Passwords) -> None:
    assert not await passwords.verify("not-a-hash", "anything")


async def test_a_hash_made_with_other_parameters_needs_a_rehash(passwords: Passwords) -> None:
    stronger = Passwords(memory_kib=8 * 1024, time_cost=2, parallelism=1)

    assert stronger.needs_rehash(await passwords.hash("pw"))
    assert not passwords.needs_rehash(await passwords.hash("pw"))


def test_a_token_round_trips_to_its_user_id() -> None:
    user_id = uuid.uuid4()

    assert (
        user_id_from_token(
            issue_token(user_id=user_id, secret=SECRET, ttl_seconds=60), secret=SECRET
        )
        == user_id
    )


def test_a_token_payload_is_exactly_sub_iat_exp() -> None:
    now = datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=UTC)
    user_id = uuid.uuid4()

    token = issue_token(user_id=user_id, secret=SECRET, ttl_seconds=600, now=now)
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )

    assert claims == {
        "sub": str(user_id),
        "iat": int(now.replace(microsecond=0).timestamp()),
        "exp": int(now.replace(microsecond=0).timestamp()) + 600,
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_an_expired_token_is_invalid() -> None:
    token = issue_token(
        user_id=uuid.uuid4(),
        secret=SECRET,
        ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(minutes=5),
    )

    with pytest.raises(InvalidTokenError):
        user_id_from_token(token, secret=SECRET)


def test_a_token_verified_while_valid_is_refused_once_it_expires() -> None:
    user_id = uuid.uuid4()
    token = issue_token(user_id=user_id, secret=SECRET, ttl_seconds=60)

    assert user_id_from_token(token, secret=SECRET) == user_id  # verified, and cached
    with pytest.raises(InvalidTokenError, match="expired"):
        user_id_from_token(token, secret=SECRET, now=datetime.now(UTC) + timedelta(minutes=2))
    assert user_id_from_token(token, secret=SECRET) == user_id


def test_a_token_is_only_valid_for_the_secret_that_signed_it_even_once_cached() -> None:
    user_id = uuid.uuid4()
    token = issue_token(user_id=user_id, secret=SECRET, ttl_seconds=60)
    assert user_id_from_token(token, secret=SECRET) == user_id

    with pytest.raises(InvalidTokenError):
        user_id_from_token(token, secret="another-secret-" + "x" * 40)


def test_a_token_issued_in_the_future_is_invalid() -> None:
    token = issue_token(
        user_id=uuid.uuid4(),
        secret=SECRET,
        ttl_seconds=3600,
        now=datetime.now(UTC) + timedelta(minutes=10),
    )

    with pytest.raises(InvalidTokenError):
        user_id_from_token(token, secret=SECRET)


async def test_hashing_runs_off_the_event_loop(passwords: Passwords) -> None:
    hashing = asyncio.create_task(passwords.hash("a login storm must not stall the loop"))

    await asyncio.sleep(0)  # one loop turn: an on-loop hash would have finished inside it

    assert not hashing.done()
    assert (await hashing).startswith("$argon2id$")


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux behaviour")
async def test_hashing_runs_in_a_thread_of_low_cpu_priority(passwords: Passwords) -> None:
    await passwords.hash("a password to hash")

    hashers = [t.native_id for t in threading.enumerate() if t.name.startswith("argon2")]
    assert hashers
    assert {os.getpriority(os.PRIO_PROCESS, tid or 0) for tid in hashers} == {HASHING_NICENESS}
