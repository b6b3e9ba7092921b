"""Two users, their tasks through nginx, one digest run: each gets exactly their own email."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import httpx
import pytest

from tests.e2e.native.conftest import NativeRun
from tests.e2e.native.users import sign_up
from tests.support.processes import wait_until

pytestmark = pytest.mark.e2e

ANN = {"open": ["Ann: repaint the fence", "Ann: book <the> dentist"], "done": ["Ann: buy milk"]}
BOB = {"open": ["Bob: renew passport"], "done": ["Bob: pay rent", "Bob: fix bike", "Bob: call mum"]}


def _text(mail: EmailMessage) -> str:
    """Subject and every part, decoded: where another user's title could possibly leak."""
    parts = [str(mail["Subject"])]
    for kind in ("plain", "html"):
        part = mail.get_body(preferencelist=(kind,))
        assert part is not None, f"no {kind} part"
        parts.append(part.get_content())
    return "\n".join(parts)


def test_each_user_gets_exactly_one_digest_with_only_their_own_tasks(native: NativeRun) -> None:
    with httpx.Client(base_url=native.api_url, timeout=30) as client:
        ann, bob = sign_up(client), sign_up(client)
        for user, titles in ((ann, ANN), (bob, BOB)):
            for title in titles["open"]:
                user.add(title)
            for title in titles["done"]:
                user.change(user.add(title), done=True)

    digest = native.run_digest(datetime.now(UTC).date())
    assert digest.returncode == 0, digest.stdout + digest.stderr
    wait_until(lambda: all(native.emails_to(u.email) for u in (ann, bob)), timeout=60, interval=0.2)

    [ann_mail] = native.emails_to(ann.email)
    [bob_mail] = native.emails_to(bob.email)
    assert "2 to do, 1 done" in str(ann_mail["Subject"])
    assert "1 to do, 3 done" in str(bob_mail["Subject"])
    ann_text, bob_text = _text(ann_mail), _text(bob_mail)
    assert "3 tasks in total: 1 done, 2 still to do." in ann_text
    assert "4 tasks in total: 3 done, 1 still to do." in bob_text
    assert "Ann: book &lt;the&gt; dentist" in ann_text  # escaped in the HTML part
    for title in ANN["open"] + BOB["open"]:
        assert (title in ann_text) == title.startswith("Ann"), title
        assert (title in bob_text) == title.startswith("Bob"), title
    assert "Ann:" not in bob_text
    assert "Bob:" not in ann_text
    for title in ANN["done"] + BOB["done"]:  # only what is still to do is listed
        assert title not in ann_text + bob_text
