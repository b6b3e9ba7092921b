"""`python -m mailer dlq list|show|replay|discard`: the dead letters, by hand.

A dead letter is the original record plus why it failed and where it was read from
(`app.core.dead_letters`). A replay sends the original record (key, value, headers, event id
included) back to the topic it came from, so the mailer handles it again and its dedupe still
holds: an email already sent is not sent twice. A discard records the decision; Kafka keeps the
record until retention, and `list` no longer shows it. Each action is one `operator_actions`
row and one log line. These commands run as the schema owner, never with the mailer's role.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import make_engine
from app.core.dead_letters import DeadLetter, read_dead_letters
from app.core.models import OperatorAction
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
from mailer.settings import MailerSettings

TOOL = "mailer dlq"


def document(letter: DeadLetter, *, handled: str | None, full: bool = False) -> dict[str, Any]:
    topic, partition, offset = letter.original
    doc: dict[str, Any] = {
        "ref": letter.ref,
        "event_id": None if letter.event_id is None else str(letter.event_id),
        "type": letter.event_type,
        "failed_at": iso(letter.failed_at),
        "reason": letter.reason,
        "detail": letter.detail,
        "original": {"topic": topic, "partition": partition, "offset": offset},
        "handled": handled,
    }
    if full:
        doc["key"] = None if letter.key is None else letter.key.decode(errors="replace")
        doc["headers"] = {k: v.decode(errors="replace") for k, v in letter.headers}
        doc["value"] = None if letter.value is None else letter.value.decode(errors="replace")
    return doc


async def handled_refs(engine: AsyncEngine, refs: Sequence[str]) -> dict[str, str]:
    """The last action taken on each of these dead letters: "replayed by x at t"."""
    query = (
        select(
            OperatorAction.target, OperatorAction.action, OperatorAction.actor, OperatorAction.at
        )
        .where(OperatorAction.tool == TOOL, OperatorAction.target.in_(list(refs)))
        .order_by(OperatorAction.id)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return {r.target: f"{PAST[r.action]} by {r.actor} at {iso(r.at)}" for r in rows}


def matches(letter: DeadLetter, args: argparse.Namespace) -> bool:
    """The --type, --since, --until and --reason filters."""
    return (
        (args.event_type is None or letter.event_type == args.event_type)
        and (args.since is None or letter.failed_at >= args.since)
        and (args.until is None or letter.failed_at < args.until)
        and (args.reason is None or args.reason in f"{letter.reason} {letter.detail}")
    )


def selected(letter: DeadLetter, wanted: str) -> bool:
    """Named by its event id or its `topic:partition:offset`."""
    return wanted in (letter.ref, str(letter.event_id))


async def _run(args: argparse.Namespace, settings: MailerSettings) -> int:
    letters = await read_dead_letters(settings.kafka_bootstrap_servers, settings.kafka_dlq_topic)
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        handled = await handled_refs(engine, [d.ref for d in letters])
        if args.command == "list":
            shown = [
                d for d in letters if matches(d, args) and (args.handled or d.ref not in handled)
            ][: args.limit]
            emit(
                [document(d, handled=handled.get(d.ref)) for d in shown],
                as_json=args.json,
                text="\n".join(_line(d, handled.get(d.ref)) for d in shown)
                or f"no dead letters match in {settings.kafka_dlq_topic}",
            )
            return 0
        if args.command == "show":
            found = [d for d in letters if selected(d, args.ref)]
            if not found:
                say(f"no dead letter {args.ref} in {settings.kafka_dlq_topic}")
                return 1
            emit(
                [document(d, handled=handled.get(d.ref), full=True) for d in found],
                as_json=True,
                text="",
            )
            return 0
        return await _act(args, settings, engine, letters, handled)
    finally:
        await engine.dispose()


def _line(letter: DeadLetter, handled: str | None) -> str:
    state = f"  [{handled}]" if handled else ""
    return (
        f"{letter.ref}  {letter.event_id}  {letter.event_type}  {iso(letter.failed_at)}"
        f"  {letter.reason}: {letter.detail}{state}"
    )


async def _act(
    args: argparse.Namespace,
    settings: MailerSettings,
    engine: AsyncEngine,
    letters: list[DeadLetter],
    handled: dict[str, str],
) -> int:
    chosen = _choose(letters, args, handled)
    missing = {str(i) for i in args.event_ids} - {str(d.event_id) for d in chosen}
    if missing:
        say(f"not in {settings.kafka_dlq_topic}: " + ", ".join(sorted(missing)))
        return 1
    if not chosen:
        say("no dead letters match")
        return 0
    actor = args.actor or default_actor()
    producer = None
    if args.command == "replay" and not args.dry_run:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
        )
        await producer.start()
    try:
        for letter in chosen:
            topic = letter.original[0] or settings.kafka_topic
            if args.dry_run:
                say(f"would {args.command} {letter.event_id} ({letter.ref} -> {topic})")
                log_dry_run(
                    actor=actor, tool=TOOL, action=args.command, target=letter.ref,
                    event_id=letter.event_id,
                )  # fmt: skip
                continue
            detail: dict[str, Any] = {"reason": letter.reason, "detail": letter.detail}
            # The audit row commits only once the record is on Kafka: a failed send records
            # nothing, and the operator runs the replay again.
            async with engine.begin() as connection:
                if producer is not None:
                    metadata = await producer.send_and_wait(
                        topic, value=letter.value, key=letter.key, headers=letter.replay_headers()
                    )
                    detail |= {
                        "to": f"{topic}:{metadata.partition}:{metadata.offset}",
                    }
                await record_action(
                    connection,
                    actor=actor,
                    tool=TOOL,
                    action=args.command,
                    target=letter.ref,
                    event_id=letter.event_id,
                    detail=detail,
                )
            say(f"{PAST[args.command]} {letter.event_id} ({letter.ref} -> {detail.get('to', '-')})")
    finally:
        if producer is not None:
            await producer.stop()
    return 0


def _choose(
    letters: Sequence[DeadLetter], args: argparse.Namespace, handled: dict[str, str]
) -> list[DeadLetter]:
    """What an action applies to: the unhandled dead letters the filters (and ids) match.

    A named event whose dead letters were all handled already gets its last one again: an
    operator may replay on purpose a second time (the dedupe makes it a harmless duplicate).
    """
    matching = [d for d in letters if matches(d, args)]
    if args.all:
        return [d for d in matching if d.ref not in handled][: args.limit]
    chosen: list[DeadLetter] = []
    for event_id in args.event_ids:
        own = [d for d in matching if d.event_id == event_id]
        chosen += [d for d in own if d.ref not in handled] or own[-1:]
    return chosen


def add_dlq_commands(commands: Any) -> None:
    """`dlq list|show|replay|discard` under the mailer's command line."""
    dlq = commands.add_parser("dlq", help="the dead-letter topic")
    actions = dlq.add_subparsers(dest="command", required=True)
    listing = actions.add_parser("list", help="dead letters nobody handled yet, oldest first")
    add_filters(listing)
    listing.add_argument("--handled", action="store_true", help="also those replayed or discarded")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="dead letters of one event (or one ref) in full")
    show.add_argument("ref", metavar="EVENT_ID|TOPIC:PARTITION:OFFSET")
    for name, purpose in (
        ("replay", "send the original record again to its topic, event id unchanged"),
        ("discard", "mark as handled without sending"),
    ):
        add_action_arguments(actions.add_parser(name, help=purpose))


def parser() -> argparse.ArgumentParser:
    """The mailer's command line: no command runs the service."""
    root = argparse.ArgumentParser(prog="python -m mailer", description="The idempotent mailer.")
    add_dlq_commands(root.add_subparsers(dest="area"))
    return root


def run(argv: Sequence[str]) -> int | None:
    """Run an operator command; None when `argv` names none (then the service runs)."""
    cli = parser()
    args = cli.parse_args(argv)
    if args.area is None:
        return None
    if args.command in ("replay", "discard"):
        check_selection(cli, args)
    return asyncio.run(_run(args, MailerSettings()))
