"""`make mail`: the last emails the SMTP sink of `make dev` received, as a person reads them.

The sink (aiosmtpd's Mailbox handler) writes one Maildir file per email under
$DEV_DIR/mail (default var/dev/mail); this prints the newest ones, oldest first: sender,
recipient, subject, date and the plain-text part, decoded.
    scripts/mail.py [-n COUNT] [--dir MAILDIR]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("DEV_DIR", "var/dev")) / "mail"


def newest(maildir: Path, count: int) -> list[tuple[datetime, EmailMessage]]:
    """The `count` most recently delivered emails in `maildir` and when, oldest first."""
    # A Maildir file's mtime is its delivery time; new/ holds the unread, cur/ the read ones.
    files = [path for sub in ("new", "cur") for path in (maildir / sub).glob("*") if path.is_file()]
    files.sort(key=lambda path: (path.stat().st_mtime, path.name))
    messages = []
    for path in files[-count:]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append((datetime.fromtimestamp(path.stat().st_mtime, UTC), message))
    return messages


def render(received: datetime, message: EmailMessage) -> str:
    """One email as text: its headers a person looks at, then its plain-text body."""
    date = message["Date"] or f"(none; received {received:%Y-%m-%d %H:%M:%S} UTC)"
    lines = [
        f"From:    {message['From']}",
        f"To:      {message['To'] or message['X-RcptTo']}",
        f"Subject: {message['Subject']}",
        f"Date:    {date}",
        "",
    ]
    body = message.get_body(preferencelist=("plain", "html"))
    lines.append("(no body)" if body is None else str(body.get_content()).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the newest emails, or say where none were found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=5, help="how many (default 5)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    args = parser.parse_args(argv)
    messages = newest(args.dir, args.count)
    if not messages:
        sys.stdout.write(f"no email in {args.dir}/new yet (`make dev` puts them there)\n")
        return 0
    rule = "=" * 72
    sys.stdout.write("\n".join(f"{rule}\n{render(*m)}" for m in messages) + f"\n{rule}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
