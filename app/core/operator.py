"""What the operator commands share: who is acting, the audit record of each action, time filters.

`python -m relay trace|parked` and `python -m mailer dlq` change things by hand (a replay, a
discard). Each change is one `operator_actions` row and one structured log line naming the actor,
the action, its target and the event, written in the transaction of the change itself; a dry run
writes neither and says what it would have done.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.models import OperatorAction

log = structlog.get_logger(__name__)

ACTOR_ENV = "OPERATOR"


def default_actor() -> str:
    """`$OPERATOR`, else `user@host` of the shell running the command."""
    if actor := os.environ.get(ACTOR_ENV, "").strip():
        return actor
    try:
        user = getpass.getuser()
    except OSError:  # no name for this uid (a bare container)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def parse_time(value: str) -> datetime:
    """An ISO 8601 instant (UTC when it names no zone) or an age such as `30m`, `2h`, `7d`."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        msg = f"not an ISO 8601 time nor an age like 30m, 2h, 7d: {value!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def add_filters(parser: argparse.ArgumentParser) -> None:
    """--type, --since, --until, --reason, --limit: the filters every listing takes."""
    parser.add_argument("--type", dest="event_type", help="only events of this type")
    parser.add_argument("--since", type=parse_time, help="failed at or after (ISO time or 2h)")
    parser.add_argument("--until", type=parse_time, help="failed before (ISO time or 2h)")
    parser.add_argument("--reason", help="only failures whose reason contains this text")
    parser.add_argument("--limit", type=int, default=100, help="at most this many (100)")


def add_action_arguments(parser: argparse.ArgumentParser) -> None:
    """What replay and discard take: which events, or every one the filters match."""
    parser.add_argument("event_ids", nargs="*", type=uuid.UUID, metavar="EVENT_ID")
    parser.add_argument("--all", action="store_true", help="every one the filters match")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done; do nothing")
    parser.add_argument("--actor", default=None, help="who is acting ($OPERATOR or user@host)")
    add_filters(parser)


def check_selection(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An action names its events, or says --all; never both, never neither."""
    if bool(args.event_ids) == bool(args.all):
        parser.error("name the events (EVENT_ID ...) or pass --all with filters, not both")


async def record_action(
    connection: AsyncConnection,
    *,
    actor: str,
    tool: str,
    action: str,
    target: str,
    event_id: uuid.UUID | None,
    detail: dict[str, Any],
) -> None:
    """One audit row in the caller's transaction, and the same facts as a log line."""
    await connection.execute(
        insert(OperatorAction).values(
            actor=actor, tool=tool, action=action, target=target, event_id=event_id, detail=detail
        )
    )
    log.info(
        "operator action",
        actor=actor,
        tool=tool,
        action=action,
        target=target,
        event_id=None if event_id is None else str(event_id),
        **detail,
    )


def log_dry_run(*, actor: str, tool: str, action: str, target: str, event_id: object) -> None:
    log.info(
        "operator dry run",
        actor=actor,
        tool=tool,
        action=action,
        target=target,
        event_id=None if event_id is None else str(event_id),
    )


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


PAST = {"replay": "replayed", "discard": "discarded"}


def say(line: str) -> None:
    """One line for the operator on stdout (the logs go to stderr)."""
    sys.stdout.write(line + "\n")


def emit(document: Any, *, as_json: bool, text: str) -> None:
    """Print `text`, or `document` as JSON with --json."""
    say(json.dumps(document, indent=2, default=str) if as_json else text)
