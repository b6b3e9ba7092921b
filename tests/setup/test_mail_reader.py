"""`make mail` (scripts/mail.py) shows the emails of the SMTP sink as a person reads them."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit


def deliver(maildir: Path, subject: str, text: str, *, at: int) -> None:
    """Store one email the way aiosmtpd's Mailbox handler does, delivered at time `at`."""
    message = EmailMessage()
    message["From"] = "Eventful TODO <no-reply@eventful-todo.local>"
    message["To"] = "zoë@example.com"
    message["Subject"] = subject
    message["Date"] = "Tue, 01 Dec 2026 00:00:05 +0000"
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(f"<p>{text}</p>", subtype="html")
    box = mailbox.Maildir(maildir, create=True)
    key = box.add(message.as_bytes())
    path = maildir / "new" / key
    os.utime(path, (at, at))


def mail(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "scripts/mail.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


def test_the_newest_emails_are_printed_decoded_oldest_first(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    deliver(maildir, "Your day: 0 to do, 1 done — café", "Buy milk ✓ done", at=1_000)
    deliver(maildir, "Second digest", "Write the report", at=2_000)
    deliver(maildir, "Oldest digest", "not shown with -n 2", at=500)

    shown = mail("--dir", str(maildir), "-n", "2")

    assert "not shown" not in shown
    assert shown.index("café") < shown.index("Second digest")
    assert "From:    Eventful TODO <no-reply@eventful-todo.local>" in shown
    assert "To:      zoë@example.com" in shown
    assert "Subject: Your day: 0 to do, 1 done — café" in shown
    assert "Date:    Tue, 01 Dec 2026 00:00:05 +0000" in shown
    assert "Buy milk ✓ done" in shown  # the text part, not its quoted-printable form
    assert "<p>" not in shown


def test_an_empty_or_missing_mailbox_says_where_it_looked(tmp_path: Path) -> None:
    shown = mail("--dir", str(tmp_path / "nowhere"))

    assert f"no email in {tmp_path / 'nowhere'}/new yet" in shown
