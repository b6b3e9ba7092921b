"""The bench report: a table on stdout (ours next to the ceilings) and a PNG of the same numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The targets of the benchmark issue, checked on every run (top concurrency for POST).
POST_SHARE_OF_PGBENCH = 0.50
POST_P99_MS = 50.0
E2E_P99_MS = 100.0
STORM_P99_FACTOR = 2.0
GET_SHARE_OF_PGBENCH = 0.30


def _by_c(points: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(p["connections"]): p for p in points}


def _ratio(ours: float, ceiling: float) -> str:
    return f"{100 * ours / ceiling:5.1f} %" if ceiling else "n/a"


#: The pgbench ceilings: our exact statement, and the same work as four statements.
PGBENCH = {
    "pgbench": "the API's statement",
    "pgbench_multi_statement": "BEGIN; 2 INSERTs; NOTIFY; END",
}


def targets(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    ceil, sys_ = report["ceilings"], report["system"]
    top = max(report["config"]["concurrency"])
    post = _by_c(sys_["post"])[top]
    e2e = sys_["e2e_under_load"]["p99_ms"]
    quiet, stormy = sys_["get_quiet"]["p99_ms"], sys_["get_in_storm"]["p99_ms"]
    shares = [
        (
            f"POST /tasks >= {POST_SHARE_OF_PGBENCH:.0%} of pgbench ({what}) at c={top}",
            f"{share:.1%}",
            share >= POST_SHARE_OF_PGBENCH,
        )
        for key, what in PGBENCH.items()
        if key in ceil
        for share in [post["rps"] / _by_c(ceil[key])[top]["rps"]]
    ]
    get = _by_c(sys_["get"])[top]
    if "pgbench_list" in ceil:
        share = get["rps"] / _by_c(ceil["pgbench_list"])[top]["rps"]
        shares.append(
            (
                f"GET /tasks >= {GET_SHARE_OF_PGBENCH:.0%} of pgbench (its statement) at c={top}",
                f"{share:.1%}",
                share >= GET_SHARE_OF_PGBENCH,
            )
        )
    return [
        *shares,
        (
            f"GET /tasks req/s >= POST /tasks req/s at c={top}",
            f"{get['rps']:.0f} / {post['rps']:.0f} = {get['rps'] / post['rps']:.2f}x",
            get["rps"] >= post["rps"],
        ),
        (
            f"POST /tasks p99 <= {POST_P99_MS:.0f} ms at c={top}",
            f"{post['p99_ms']:.1f} ms",
            post["p99_ms"] <= POST_P99_MS,
        ),
        (f"end-to-end p99 <= {E2E_P99_MS:.0f} ms (under load)", f"{e2e:.1f} ms", e2e <= E2E_P99_MS),
        (
            f"GET p99 in a login storm <= {STORM_P99_FACTOR:.0f}x quiet",
            f"{stormy:.1f} / {quiet:.1f} ms = {stormy / quiet:.2f}x",
            stormy <= STORM_P99_FACTOR * quiet,
        ),
    ]


def _print_extras(report: dict[str, Any]) -> None:
    """The optional parts of a run: the workers x pool sweep, the peer relays."""
    if report.get("sweep"):
        print("\nSweep (POST /tasks at the top concurrency):")
        for r in report["sweep"]:
            print(
                f"  workers={r['workers']} pool={r['pool_size']:>3}: "
                f"{r['rps']:>7.0f} req/s, p99 {r['p99_ms']:.1f} ms"
            )
    if report.get("peers"):
        from bench.peers import print_report as print_peers  # noqa: PLC0415 - only with --peers

        print_peers(report["peers"])


def print_report(report: dict[str, Any]) -> None:
    m, cfg = report["machine"], report["config"]
    ceil, sys_ = report["ceilings"], report["system"]
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB")
    print(
        f"Other load: {m['busy_percent_before']} % CPU busy before, "
        f"{m.get('busy_percent_after', '?')} % after; load average {m['load_average']}"
    )
    print(
        f"Config: API_WORKERS={cfg['api_workers']} DB_POOL_SIZE={cfg['db_pool_size']} "
        f"DB_MAX_OVERFLOW={cfg['db_max_overflow']} LOG_LEVEL={cfg['log_level']}, "
        f"{cfg['seconds_per_point']} s per point\n"
    )
    header = f"{'measurement':<34}{'c':>4}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}  {'ratio':<44}"
    print(header)
    print("-" * len(header))

    def row(name: str, p: dict[str, Any], ratio: str = "") -> None:
        numbers = f"{p['rps']:>10.0f}{p['p50_ms']:>9.2f}{p['p99_ms']:>9.2f}"
        print(f"{name:<34}{p['connections']:>4}{numbers}  {ratio}")

    pg, bare_post, bare_get = (
        _by_c(ceil["pgbench"]),
        _by_c(ceil["bare_post"]),
        _by_c(ceil["bare_get"]),
    )
    multi = _by_c(ceil.get("pgbench_multi_statement", []))
    pg_list = _by_c(ceil.get("pgbench_list", []))
    for p in pg.values():
        row("ceiling: pgbench, our statement", p)
    for p in multi.values():
        row("ceiling: pgbench, 4 statements", p)
    for p in pg_list.values():
        row("ceiling: pgbench, GET's statement", p)
    for p in bare_post.values():
        row("ceiling: bare FastAPI POST", p)
    for p in bare_get.values():
        row("ceiling: bare FastAPI GET", p)
    for c, p in _by_c(sys_["post"]).items():
        of_multi = f"{_ratio(p['rps'], multi[c]['rps'])} of 4 stmts, " if c in multi else ""
        row(
            "POST /tasks",
            p,
            f"{_ratio(p['rps'], pg[c]['rps'])} of pgbench, {of_multi}"
            f"{_ratio(p['rps'], bare_post[c]['rps'])} of bare",
        )
    for c, p in _by_c(sys_["get"]).items():
        of_list = f"{_ratio(p['rps'], pg_list[c]['rps'])} of pgbench, " if c in pg_list else ""
        row("GET /tasks (20 a page)", p, f"{of_list}{_ratio(p['rps'], bare_get[c]['rps'])} of bare")
    row("POST /auth/login (argon2id)", sys_["login"])
    row("GET /tasks, quiet", sys_["get_quiet"])
    row("GET /tasks, during a login storm", sys_["get_in_storm"])
    row("  the storm itself (logins)", sys_["storm"])
    k = ceil["kafka_producer"]
    print(
        f"\nceiling: Kafka idempotent producer {k['msgs_per_s']:.0f} msg/s "
        f"(batches of {k['batch']}); one send awaited: p50 {k['send_p50_ms']} ms, "
        f"p99 {k['send_p99_ms']} ms"
    )
    for name in ("e2e_quiet", "e2e_under_load"):
        e = sys_[name]
        print(
            f"{name.replace('_', ' ')}: HTTP response -> Kafka p50 {e['p50_ms']} ms, "
            f"p99 {e['p99_ms']} ms, max {e['max_ms']} ms ({e['samples']} samples, "
            f"{e['missing']} missing); from request sent p50 {e['from_request_p50_ms']} ms, "
            f"p99 {e['from_request_p99_ms']} ms"
        )
    print(f"\n{'RSS (MiB)':<30}idle   under POST load")
    for name in sys_["rss_load_kib"]:
        idle = sys_["rss_idle_kib"].get(name)
        shown = "-" if idle is None else f"{idle / 1024:.0f}"
        print(f"  {name:<28}{shown:>6}{sys_['rss_load_kib'][name] / 1024:>12.0f}")
    _print_extras(report)
    print("\nTargets:")
    for name, value, ok in targets(report):
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {value}")


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only when plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    ceil, sys_ = report["ceilings"], report["system"]
    series = {
        "pgbench (ceiling)": ceil["pgbench"],
        "pgbench 4 statements (ceiling)": ceil.get("pgbench_multi_statement", []),
        "pgbench GET statement (ceiling)": ceil.get("pgbench_list", []),
        "bare POST (ceiling)": ceil["bare_post"],
        "bare GET (ceiling)": ceil["bare_get"],
        "POST /tasks": sys_["post"],
        "GET /tasks": sys_["get"],
    }
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    for i, (label, points) in enumerate(series.items()):
        xs = [p["connections"] for p in points]
        style, color = ("--" if "ceiling" in label else "-"), f"C{i}"
        axes[0].plot(xs, [p["rps"] for p in points], style, color=color, marker="o", label=label)
        p99, p50 = [p["p99_ms"] for p in points], [p["p50_ms"] for p in points]
        axes[1].plot(xs, p99, style, color=color, marker="o", label=f"{label} p99")
        axes[1].plot(xs, p50, ":", color=color, marker=".", label=f"{label} p50")
    for ax, title, unit in ((axes[0], "Throughput", "req/s"), (axes[1], "Latency", "ms")):
        ax.set(
            title=title, xlabel="concurrent connections", ylabel=unit, xscale="log", yscale="log"
        )
        ax.set_xticks(
            report["config"]["concurrency"],
            labels=[str(c) for c in report["config"]["concurrency"]],
        )
        ax.grid(visible=True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    bars = {
        "e2e p50\nquiet": sys_["e2e_quiet"]["p50_ms"],
        "e2e p99\nquiet": sys_["e2e_quiet"]["p99_ms"],
        "e2e p50\nload": sys_["e2e_under_load"]["p50_ms"],
        "e2e p99\nload": sys_["e2e_under_load"]["p99_ms"],
        "GET p99\nquiet": sys_["get_quiet"]["p99_ms"],
        "GET p99\nstorm": sys_["get_in_storm"]["p99_ms"],
    }
    axes[2].bar(list(bars), list(bars.values()), color=["C0", "C0", "C1", "C1", "C2", "C3"])
    axes[2].set(title="End-to-end and login storm", ylabel="ms")
    axes[2].tick_params(axis="x", labelsize=8)
    cfg = report["config"]
    fig.suptitle(
        f"Eventful TODO on {report['machine']['cores']} cores, API_WORKERS={cfg['api_workers']}, "
        f"pool {cfg['db_pool_size']}+{cfg['db_max_overflow']}, {report['started_at']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # re-print and re-plot a saved run: python -m bench.report [file]
    import json
    import sys

    source = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results/latest.json"
    )
    saved = json.loads(source.read_text())
    print_report(saved)
    plot(saved, source.with_suffix(".png"))
