"""The peer bench's pure parts: the connector reads the outbox as it is; the table's arithmetic."""

from __future__ import annotations

from typing import Any

from app.core.outbox import OUTBOX_TABLE
from bench.debezium import connector_config
from bench.peers import summary

URL = "postgresql+psycopg://bench:secret@127.0.0.1:25482/bench_db"


def test_the_connector_names_only_columns_the_outbox_has() -> None:
    config = connector_config(URL, slot="s", publication="p")
    columns = {
        config[f"transforms.outbox.table.field.event.{name}"] for name in ("id", "key", "payload")
    }
    placed = config["transforms.outbox.table.fields.additional.placement"].split(",")
    columns |= {entry.split(":")[0] for entry in placed}
    columns.add(config["transforms.outbox.route.by.field"])

    assert columns <= set(OUTBOX_TABLE.c.keys())


def test_the_connector_reads_the_outbox_of_the_given_database_with_pgoutput() -> None:
    config = connector_config(URL, slot="slot_a", publication="pub_a", poll_ms=10)

    assert (config["database.hostname"], config["database.port"]) == ("127.0.0.1", "25482")
    assert (config["database.user"], config["database.password"]) == ("bench", "secret")
    assert config["database.dbname"] == "bench_db"
    assert (config["slot.name"], config["publication.name"]) == ("slot_a", "pub_a")
    assert config["plugin.name"] == "pgoutput"
    assert config["table.include.list"] == "public.outbox"
    assert config["poll.interval.ms"] == "10"


def _run(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    return {"ours": ours, "debezium": theirs, "ceiling": {"msgs_per_s": 1.0}}


def test_ratios_pair_each_run_and_leave_out_a_phase_that_saw_no_record() -> None:
    runs = [
        _run({"start_s": 1.0}, {"start_s": 4.0}),
        _run({"start_s": 2.0}, {"start_s": 2.0}),
        _run({"start_s": float("nan")}, {"start_s": 10.0}),
    ]

    rows = {label: rest for label, *rest in summary({"runs": runs})}

    ours, theirs, ratio = rows["start (spawn to ready) [s]"]
    assert ours == "1.5 (1.0-2.0)"
    assert theirs == "4.0 (2.0-10.0)"
    assert ratio == "0.62 (0.25-1.00)"  # 1/4 and 2/2; the third run has no value of ours


def test_our_one_latency_run_stands_beside_both_of_debeziums() -> None:
    ours = {"latency": {"p99_ms": 30.0}}
    runs = [_run(ours, {"latency": {"p99_ms": 900.0}, "latency_tuned": {"p99_ms": 60.0}})]

    rows = {label: rest for label, *rest in summary({"runs": runs})}

    assert rows["latency p99, default [ms]"][2] == "0.03 (0.03-0.03)"
    assert rows["latency p99, tuned poll [ms]"][2] == "0.50 (0.50-0.50)"
