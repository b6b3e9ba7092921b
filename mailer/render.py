"""Render a digest event into a multipart email (plain text + autoescaped HTML)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.core.events import DailyDigestRequested

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    # Titles are user input: every HTML template escapes by default, text ones never do.
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def message_id_for(event: DailyDigestRequested, *, domain: str) -> str:
    """Deterministic, so a receiving system can spot a resent duplicate."""
    return f"<{event.event_id}@{domain}>"


def digest_day(event: DailyDigestRequested, *, day: date | None, timezone: ZoneInfo) -> date:
    """The user's local day the digest covers: the scheduler's `digest_day` header.

    Digests recorded before the header existed fall back to the date of `occurred_at` in the
    mailer's own zone, as they were rendered then.
    """
    return day or event.occurred_at.astimezone(timezone).date()


def subject_for(event: DailyDigestRequested, *, day: date) -> str:
    """`Your TODO digest for Thu 26 Nov 2026: 3 to do, 5 done`."""
    shown = day.strftime("%a %d %b %Y")
    stats = event.stats
    if stats.total == 0:
        return f"Your TODO digest for {shown}: no tasks yet"
    return f"Your TODO digest for {shown}: {stats.undone} to do, {stats.done} done"


def list_id_for(domain: str) -> str:
    """RFC 2919 List-Id: one list, the digest, under the sender's domain."""
    return f"Eventful TODO daily digest <daily-digest.{domain}>"


def render_digest(
    event: DailyDigestRequested,
    *,
    day: date | None,
    mail_from: str,
    timezone: ZoneInfo,
    message_id_domain: str,
    unsubscribe_url: Callable[[uuid.UUID], str],
) -> MIMEMultipart:
    """The complete email for one digest event: multipart/alternative, text first."""
    unsubscribe = unsubscribe_url(event.user_id)
    day = digest_day(event, day=day, timezone=timezone)
    context = {
        "unsubscribe_url": unsubscribe,
        "day": day.strftime("%A %d %B %Y"),
        "stats": event.stats,
        "titles": event.undone_titles,
        "more": max(event.stats.undone - len(event.undone_titles), 0),
    }
    # The legacy MIME classes: a third of EmailMessage's CPU cost, and this runs per email.
    # A boundary of our own spares the generator its regex scan of the body for a safe one;
    # the parts are base64, which can never contain a "--" line.
    message = MIMEMultipart("alternative", boundary=f"=_{uuid.uuid4().hex}")
    message["From"] = _address(mail_from)
    message["To"] = _address(event.email)
    message["Subject"] = subject_for(event, day=day)
    message["Date"] = format_datetime(event.occurred_at)
    message["Message-ID"] = message_id_for(event, domain=message_id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Event-Id"] = str(event.event_id)
    # RFC 8058 one-click: the mailbox provider POSTs "List-Unsubscribe=One-Click" to the URL, so
    # the link itself must not need a login or a second click (a GET only shows a confirm page).
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["List-Id"] = list_id_for(message_id_domain)
    text = _templates.get_template("digest.txt.j2").render(context)
    html = _templates.get_template("digest.html.j2").render(context)
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    return message


def _address(value: str) -> str:
    """RFC 2047-encode a non-ASCII display name; the address itself is left as given."""
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if address else value
