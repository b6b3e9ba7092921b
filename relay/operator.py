"""Operator commands of the relay: an event's journey, and the rows parked after rejections.

`python -m relay trace EVENT_ID` prints where one event went: its outbox row, the Kafka
partition and offset the broker acknowledged, the mailer's outcome (its dedupe record and the
Message-ID, or the dead letter) and what operators did to it. `python -m relay parked
list|show|replay|discard` handles parked rows: a replay makes the same row (same event id)
publishable again, a discard deletes it; each is recorded in `operator_actions`. These read
across the services' tables, so they run as the schema owner, never with the relay's role.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.db import make_engine
from app.core.dead_letters import DeadLetter, find, read_dead_letters
from app.core.events import DAILY_DIGEST_REQUESTED, DailyDigestRequested
from app.core.operator import (
    PAST,
    add_action_arguments,
    add_filters,
    check_selection,
    default_actor,
    emit,
    iso,
    log_dry_run,
    record_action,
    say,
)
from app.core.outbox import OUTBOX_CHANNEL
from relay.settings import RelaySettings

TOOL = "relay parked"
_ROW = """
    SELECT id, event_id, topic, key, type, created_at, occurred_at, attempts, last_error,
           published_at, parked_at, kafka_partition, kafka_offset{extra}
    FROM outbox
"""
ROW_BY_EVENT = text(_ROW.format(extra=", payload, headers") + " WHERE event_id = :event_id")
USER_BY_EMAIL = text("SELECT id FROM users WHERE lower(email) = lower(:email)")
EVENTS_OF_TASK = text("SELECT event_id FROM outbox WHERE payload->>'task_id' = :task ORDER BY id")
PROCESSED = text("SELECT processed_at, message_id FROM processed_events WHERE event_id = :id")
ACTIONS = text(
    "SELECT at, actor, tool, action, target, detail FROM operator_actions"
    " WHERE event_id = :id ORDER BY id"
)
# Filters are bound parameters, NULL when not given: one statement, no SQL built from input.
PARKED = text(
    _ROW.format(extra="")
    + """
    WHERE parked_at IS NOT NULL AND published_at IS NULL
      AND (CAST(:type AS text) IS NULL OR type = :type)
      AND (CAST(:since AS timestamptz) IS NULL OR parked_at >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR parked_at < :until)
      AND (CAST(:reason AS text) IS NULL OR strpos(last_error, :reason) > 0)
      AND (CAST(:ids AS uuid[]) IS NULL OR event_id = ANY(:ids))
    ORDER BY id
    LIMIT :limit
    FOR UPDATE
    """
)
# Fresh attempts; the NOTIFY wakes the relay at commit instead of at its next fallback poll.
REPLAY = text("UPDATE outbox SET parked_at = NULL, attempts = 0, last_error = NULL WHERE id = :id")
DISCARD = text("DELETE FROM outbox WHERE id = :id")
WAKE_RELAY = text("SELECT pg_notify(:channel, '')").bindparams(channel=OUTBOX_CHANNEL)


def outbox_document(row: RowMapping | None) -> dict[str, Any] | None:
    if row is None:
        return None
    state = "published" if row["published_at"] else "parked" if row["parked_at"] else "waiting"
    document: dict[str, Any] = {
        "id": row["id"],
        "event_id": str(row["event_id"]),
        "type": row["type"],
        "key": row["key"],
        "state": state,
        "created_at": iso(row["created_at"]),
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "published_at": iso(row["published_at"]),
        "parked_at": iso(row["parked_at"]),
        "topic": row["topic"],
        "partition": row["kafka_partition"],
        "offset": row["kafka_offset"],
    }
    if "payload" in row:
        document |= {"payload": row["payload"], "headers": row["headers"]}
    return document


def dead_letter_document(letter: DeadLetter) -> dict[str, Any]:
    topic, partition, offset = letter.original
    return {
        "ref": letter.ref,
        "failed_at": iso(letter.failed_at),
        "reason": letter.reason,
        "detail": letter.detail,
        "original": {"topic": topic, "partition": partition, "offset": offset},
    }


@dataclass(frozen=True)
class Journey:
    event_id: uuid.UUID
    outbox: dict[str, Any] | None
    mailer: dict[str, Any] | None
    dead_letters: list[dict[str, Any]]
    actions: list[dict[str, Any]]

    @property
    def known(self) -> bool:
        return bool(self.outbox or self.mailer or self.dead_letters or self.actions)

    def document(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "outbox": self.outbox,
            "mailer": self.mailer,
            "dead_letters": self.dead_letters,
            "actions": self.actions,
        }

    def text(self) -> str:
        lines = [f"event {self.event_id}"]
        o = self.outbox
        if o is None:
            lines.append("  outbox    no row (never written here, or published and purged)")
        else:
            lines.append(f"  outbox    row {o['id']}, {o['type']}, key {o['key']}")
            lines.append(f"            created {o['created_at']}, attempts {o['attempts']}")
            if o["last_error"]:
                lines.append(f"            last error: {o['last_error']}")
            if o["state"] == "published":
                lines.append(f"            published {o['published_at']}")
                where = f"topic {o['topic']}, partition {o['partition']}, offset {o['offset']}"
                lines.append(f"  kafka     {where}")
            elif o["state"] == "parked":
                lines.append(f"            PARKED {o['parked_at']} (python -m relay parked show)")
            else:
                lines.append(f"            waiting for the relay (topic {o['topic']})")
        m = self.mailer
        if m is not None:
            lines.append(f"  mailer    sent {m['processed_at']}, Message-ID {m['message_id']}")
        elif self.dead_letters:
            lines.append("  mailer    dead-lettered (python -m mailer dlq show)")
        elif o is not None and o["type"] != DAILY_DIGEST_REQUESTED:
            lines.append("  mailer    not its business (the mailer sends digests only)")
        else:
            lines.append("  mailer    no record yet")
        lines += [
            f"  dlq       {d['ref']} at {d['failed_at']}: {d['reason']} {d['detail']}"
            for d in self.dead_letters
        ]
        for a in self.actions:
            lines.append(f"  operator  {a['at']} {a['actor']}: {a['tool']} {a['action']}")
        return "\n".join(lines)


async def journey(
    engine: AsyncEngine, event_id: uuid.UUID, *, kafka_servers: str, dlq_topic: str
) -> Journey:
    """Everything recorded about one event, from the outbox to the email."""
    async with engine.connect() as connection:
        row = (await connection.execute(ROW_BY_EVENT, {"event_id": event_id})).mappings().first()
        processed = (await connection.execute(PROCESSED, {"id": event_id})).mappings().first()
        actions = (await connection.execute(ACTIONS, {"id": event_id})).mappings().all()
    outbox = outbox_document(row)
    if outbox is not None:
        for full_only in ("payload", "headers"):
            outbox.pop(full_only)
    mailer = None
    if processed is not None:
        mailer = {
            "outcome": "sent",
            "processed_at": iso(processed["processed_at"]),
            "message_id": processed["message_id"],
        }
    letters: list[DeadLetter] = []
    # Read even when the digest was sent: a dead letter replayed since is part of its story.
    if outbox is None or outbox["type"] == DAILY_DIGEST_REQUESTED:
        letters = find(await read_dead_letters(kafka_servers, dlq_topic), event_id)
    return Journey(
        event_id=event_id,
        outbox=outbox,
        mailer=mailer,
        dead_letters=[dead_letter_document(d) for d in letters],
        actions=[
            {**a, "at": iso(a["at"]), "detail": a["detail"]} for a in (dict(r) for r in actions)
        ],
    )


async def _event_ids(engine: AsyncEngine, args: argparse.Namespace) -> list[uuid.UUID] | str:
    """The events the operator asks about, or why there are none."""
    if args.event_id is not None:
        return [args.event_id]
    async with engine.connect() as connection:
        if args.task is not None:
            rows = await connection.execute(EVENTS_OF_TASK, {"task": str(args.task)})
            found = [row.event_id for row in rows]
            return found or f"no outbox rows for task {args.task} (none, or all purged)"
        user = await connection.scalar(USER_BY_EMAIL, {"email": args.digest_for})
    if user is None:
        return f"no user with the email {args.digest_for}"
    # The digest's id is derived from (user, day): it can be traced before it even exists.
    return [DailyDigestRequested.id_for(user, args.day)]


async def _trace(args: argparse.Namespace, settings: RelaySettings) -> int:
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        event_ids = await _event_ids(engine, args)
        if isinstance(event_ids, str):
            say(event_ids)
            return 1
        found = [
            await journey(
                engine,
                event_id,
                kafka_servers=settings.kafka_bootstrap_servers,
                dlq_topic=args.dlq_topic,
            )
            for event_id in event_ids
        ]
    finally:
        await engine.dispose()
    if not any(j.known for j in found):
        say(
            f"no event {', '.join(map(str, event_ids))}: not in the outbox, the mailer's records,"
            f" the dead letters of {args.dlq_topic} or the operator actions"
        )
        return 1
    documents = [j.document() for j in found]
    emit(
        documents[0] if args.event_id is not None else documents,
        as_json=args.json,
        text="\n\n".join(j.text() for j in found),
    )
    return 0


async def _select_parked(
    connection: AsyncConnection, args: argparse.Namespace, *, ids: Sequence[uuid.UUID] | None
) -> list[RowMapping]:
    params = {
        "type": args.event_type,
        "since": args.since,
        "until": args.until,
        "reason": args.reason,
        "ids": list(ids) if ids else None,
        "limit": args.limit,
    }
    return list((await connection.execute(PARKED, params)).mappings().all())


def _row_line(row: RowMapping) -> str:
    return (
        f"{row['event_id']}  {row['type']:<26} parked {iso(row['parked_at'])}"
        f"  attempts {row['attempts']}  {row['last_error'] or ''}"
    )


async def _parked(args: argparse.Namespace, settings: RelaySettings) -> int:
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        if args.command == "list":
            async with engine.connect() as connection:
                rows = await _select_parked(connection, args, ids=None)
            emit(
                [outbox_document(r) for r in rows],
                as_json=args.json,
                text="\n".join(map(_row_line, rows)) or "no parked rows match",
            )
            return 0
        if args.command == "show":
            async with engine.connect() as connection:
                row = await connection.execute(ROW_BY_EVENT, {"event_id": args.event_id})
                found = row.mappings().first()
            if found is None or found["parked_at"] is None or found["published_at"] is not None:
                say(f"no parked row for event {args.event_id}")
                return 1
            document = outbox_document(found)
            emit(document, as_json=True, text="")
            return 0
        return await _act(engine, args)
    finally:
        await engine.dispose()


async def _act(engine: AsyncEngine, args: argparse.Namespace) -> int:
    actor = args.actor or default_actor()
    async with engine.begin() as connection:
        rows = await _select_parked(connection, args, ids=args.event_ids or None)
        missing = set(args.event_ids) - {r["event_id"] for r in rows}
        if missing:
            say("not parked: " + ", ".join(sorted(map(str, missing))))
            return 1
        for row in rows:
            target = f"outbox:{row['id']}"
            verb = f"would {args.command}" if args.dry_run else PAST[args.command]
            say(f"{verb} {row['event_id']} ({row['type']}, {target})")
            if args.dry_run:
                log_dry_run(
                    actor=actor, tool=TOOL, action=args.command, target=target,
                    event_id=row["event_id"],
                )  # fmt: skip
                continue
            await connection.execute(
                REPLAY if args.command == "replay" else DISCARD, {"id": row["id"]}
            )
            await record_action(
                connection,
                actor=actor,
                tool=TOOL,
                action=args.command,
                target=target,
                event_id=row["event_id"],
                detail={
                    "type": row["type"],
                    "key": row["key"],
                    "attempts": row["attempts"],
                    "last_error": row["last_error"],
                    "parked_at": iso(row["parked_at"]),
                },
            )
        if rows and args.command == "replay" and not args.dry_run:
            await connection.execute(WAKE_RELAY)
    if not rows:
        say("no parked rows match")
    return 0


def parser() -> argparse.ArgumentParser:
    """The relay's command line: no command runs the service."""
    root = argparse.ArgumentParser(prog="python -m relay", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="area")
    # Run by relay/status.py before this parser is reached; listed here for --help.
    commands.add_parser("status", help="which relay owns which partitions, and their backlog")
    trace = commands.add_parser("trace", help="print the journey of one event")
    trace.add_argument("event_id", type=uuid.UUID, metavar="EVENT_ID", nargs="?")
    trace.add_argument("--digest-for", metavar="EMAIL", help="the digest of this user's --day")
    trace.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD, with --digest-for")
    trace.add_argument("--task", type=uuid.UUID, help="every event of this task")
    trace.add_argument("--json", action="store_true")
    trace.add_argument(
        "--dlq-topic",
        default=os.environ.get("KAFKA_DLQ_TOPIC", "events.dlq"),
        help="the mailer's dead-letter topic ($KAFKA_DLQ_TOPIC or events.dlq)",
    )
    parked = commands.add_parser("parked", help="rows parked after permanent broker rejections")
    actions = parked.add_subparsers(dest="command", required=True)
    listing = actions.add_parser("list", help="parked rows, oldest first")
    add_filters(listing)
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one parked row in full, as JSON")
    show.add_argument("event_id", type=uuid.UUID, metavar="EVENT_ID")
    for name, purpose in (
        ("replay", "publish again (same row, same event id) once the cause is fixed"),
        ("discard", "delete for good (the audit keeps what it was)"),
    ):
        add_action_arguments(actions.add_parser(name, help=purpose))
    return root


def run(argv: Sequence[str]) -> int | None:
    """Run an operator command; None when `argv` names none (then the service runs)."""
    cli = parser()
    args = cli.parse_args(argv)
    if args.area is None:
        return None
    if args.area == "parked" and args.command in ("replay", "discard"):
        check_selection(cli, args)
    if args.area == "trace":
        chosen = [args.event_id is not None, args.task is not None, args.digest_for is not None]
        if sum(chosen) != 1 or (args.digest_for is None) != (args.day is None):
            cli.error("trace takes one of: EVENT_ID, --task TASK_ID, --digest-for EMAIL --day DAY")
    settings = RelaySettings()
    command = _trace if args.area == "trace" else _parked
    return asyncio.run(command(args, settings))
