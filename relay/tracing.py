"""The relay's spans, per the OpenTelemetry messaging conventions, and only while tracing is on.

Each claimed batch gets one `send` span that links to the creation context of every message in
it (recorded with its row when it was written). Each message that has a creation context also
gets a `send` span of its own as a child of that context, so the trace of the change shows when
the relay sent it and whether the broker acknowledged it; it links back to its batch's span.

The records carry the creation context recorded with the row (`relay/envelope.py`), never the
relay's own span: the aiokafka instrumentation would append a `traceparent` of its send span to
every record, hence these spans by hand (decision 0014).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from app.core.tracing import (
    creation_context,
    link_to,
    messaging_attributes,
    tracer,
    tracing_enabled,
)
from relay.publisher import Ack, Failure
from relay.store import ClaimedRow

#: Takes the publisher's outcomes, one per row (an `Ack` or a `Failure`), and ends the spans.
type RecordOutcomes = Callable[[Sequence[Ack | Failure]], None]


def _nothing(_: Sequence[Ack | Failure]) -> None:
    return None


@contextmanager
def traced_send(rows: Sequence[ClaimedRow]) -> Iterator[RecordOutcomes]:
    """Spans around publishing `rows`; call the yielded function with the outcomes."""
    if not tracing_enabled():
        yield _nothing
        return
    send = tracer(__name__)
    contexts = [creation_context(row.headers) for row in rows]
    topics = sorted({row.topic for row in rows})
    batch = send.start_span(
        f"send {topics[0]}" if len(topics) == 1 else "send",
        kind=SpanKind.PRODUCER,
        links=[link_to(context) for context in contexts if context is not None],
        attributes=messaging_attributes(
            "send", ",".join(topics), {"batch.message_count": len(rows)}
        ),
    )
    in_batch = [Link(batch.get_span_context())]
    spans: list[tuple[int, Span]] = [
        (
            index,
            send.start_span(
                f"send {row.topic}",
                context=context,
                kind=SpanKind.PRODUCER,
                links=in_batch,
                attributes=messaging_attributes(
                    "send",
                    row.topic,
                    {"message.id": row.event_id, "kafka.message.key": row.key},
                ),
            ),
        )
        for index, (row, context) in enumerate(zip(rows, contexts, strict=True))
        if context is not None
    ]
    ended = False

    def record(outcomes: Sequence[Ack | Failure]) -> None:
        nonlocal ended
        for index, span in spans:
            outcome = outcomes[index]
            if isinstance(outcome, Failure):
                span.set_status(Status(StatusCode.ERROR, outcome.error))
            else:  # where the broker stored it, as the event's journey records it
                span.set_attribute("messaging.destination.partition.id", str(outcome.partition))
                span.set_attribute("messaging.kafka.offset", outcome.offset)
            span.end()
        batch.set_attribute("relay.acknowledged", sum(isinstance(o, Ack) for o in outcomes))
        batch.end()
        ended = True

    try:
        yield record
    except BaseException as error:
        if not ended:  # e.g. the broker is unavailable: nothing of the batch was acknowledged
            for _, span in spans:
                span.set_status(Status(StatusCode.ERROR, str(error)))
            batch.record_exception(error)
            batch.set_status(Status(StatusCode.ERROR, str(error)))
        raise
    finally:
        if not ended:
            for _, span in spans:
                span.end()
            batch.end()
