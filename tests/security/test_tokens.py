"""Forged bearer tokens: every one is a 401 with the Bearer challenge, never a 500 or a 200."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient

from app.settings import ApiSettings
from tests.api.conftest import Account, assert_problem

pytestmark = pytest.mark.security

ATTACKER_KEY = b"attacker-chosen-key-" + b"k" * 40


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _part(value: Any) -> str:
    return _b64(value if isinstance(value, bytes) else json.dumps(value).encode())


def _sign(header: Any, claims: Any, key: bytes, digest: Callable[..., Any] = hashlib.sha256) -> str:
    signing_input = f"{_part(header)}.{_part(claims)}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), digest).digest())}"


def _claims(sub: str, **changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {"sub": sub, "iat": now, "exp": now + 300, **changes}


def _forgeries(sub: str, secret: bytes) -> dict[str, str]:
    """Tokens an attacker can make (most without the secret; the last few need it)."""
    claims = _claims(sub)
    hs256 = {"alg": "HS256", "typ": "JWT"}
    genuine = _sign(hs256, claims, secret)
    head, body, signature = genuine.split(".")
    flipped = _b64(bytes([base64.urlsafe_b64decode(signature + "=")[0] ^ 1])) + signature[2:]
    forged = {
        f"alg-{alg}": f"{_part({'alg': alg, 'typ': 'JWT'})}.{_part(claims)}."
        for alg in ("none", "None", "NONE", "nOnE", "")
    }
    forged |= {
        "alg-confusion-hs512": _sign({"alg": "HS512"}, claims, secret, hashlib.sha512),
        "alg-confusion-rs256-with-hmac": _sign({"alg": "RS256"}, claims, secret),
        "attacker-key": _sign(hs256, claims, ATTACKER_KEY),
        "kid-path": _sign({**hs256, "kid": "../../../../dev/null"}, claims, b""),
        "kid-sql": _sign({**hs256, "kid": "x' UNION SELECT 'k"}, claims, b"k"),
        "jku": _sign({**hs256, "jku": "http://127.0.0.1:1/jwks.json"}, claims, ATTACKER_KEY),
        "x5u": _sign({**hs256, "x5u": "http://127.0.0.1:1/cert.pem"}, claims, ATTACKER_KEY),
        "jwk-embedded": _sign(
            {**hs256, "jwk": {"kty": "oct", "k": _b64(ATTACKER_KEY)}}, claims, ATTACKER_KEY
        ),
        "stripped-signature": f"{head}.{body}.",
        "no-signature-part": f"{head}.{body}",
        "flipped-signature": f"{head}.{body}.{flipped}",
        "other-payload": f"{head}.{_part(_claims(sub, exp=claims['exp'] + 10**6))}.{signature}",
        "huge-claim": _sign(hs256, _claims(sub, pad="x" * 6000), ATTACKER_KEY),
        "nested-header": f"{_b64(b'[' * 3000 + b']' * 3000)}.{body}.{signature}",
        "nested-claims": _sign(hs256, {"sub": [[[[[[sub]]]]]], "iat": 1, "exp": 2}, secret),
        "header-not-json": f"{_b64(b'not json')}.{body}.{signature}",
        "header-array": f"{_part([1, 2])}.{body}.{signature}",
        "not-base64": "@@@.###.$$$",
        "five-parts": f"{genuine}.extra.parts",
        # With the secret: claims the code must still refuse.
        "exp-10e400": _sign(hs256, json.loads('{"sub": "%s", "iat": 1, "exp": 1%s}' % (sub, "0" * 400)), secret),  # noqa: E501, UP031
        "exp-string": _sign(hs256, _claims(sub, exp="tomorrow"), secret),
        "exp-infinite": _sign(hs256, b'{"sub": "%s", "iat": 1, "exp": 1e999}' % sub.encode(), secret),  # noqa: E501
        "exp-past": _sign(hs256, _claims(sub, exp=1), secret),
        "iat-missing": _sign(hs256, {"sub": sub, "exp": claims["exp"]}, secret),
        "sub-not-uuid": _sign(hs256, _claims("admin"), secret),
        "sub-integer": _sign(hs256, {**claims, "sub": 1}, secret),
        "payload-array": _sign(hs256, [sub], secret),
    }  # fmt: skip
    return forged


FORGERY_NAMES = list(_forgeries("00000000-0000-4000-8000-000000000000", b"k" * 40))


@pytest.mark.parametrize("name", FORGERY_NAMES)
async def test_a_forged_or_malformed_token_is_a_401(
    client: AsyncClient, alice: Account, api_settings: ApiSettings, name: str
) -> None:
    token = _forgeries(alice.id, api_settings.jwt_secret.encode())[name]

    response = await client.get("/tasks", headers={"Authorization": f"Bearer {token}"})

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_genuine_token_of_the_same_shape_is_accepted(
    client: AsyncClient, alice: Account, api_settings: ApiSettings
) -> None:
    token = _sign({"alg": "HS256"}, _claims(alice.id), api_settings.jwt_secret.encode())

    response = await client.get("/tasks", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
