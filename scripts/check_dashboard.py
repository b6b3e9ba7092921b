"""Lint the provisioned Grafana dashboard: it parses, has the pipeline's panels, and every panel
and query uses the provisioned Prometheus data source with a well-formed query; and Prometheus
scrapes each service on the port compose gives it.

`python scripts/check_dashboard.py` exits 1 with one line per problem. `metric_names()` is also
what the test that scrapes the real services uses to know which metrics the dashboard needs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]  # no stubs in the locked deps

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "compose" / "grafana" / "dashboards" / "pipeline.json"
DATASOURCES = ROOT / "compose" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
SCRAPES = ROOT / "compose" / "prometheus" / "prometheus.yml"
COMPOSE = ROOT / "docker-compose.yml"
#: Each scraped service and the variable that sets its metrics port in docker-compose.yml.
METRICS_PORTS = {
    "api": "API_PORT",
    "relay": "RELAY_METRICS_PORT",
    "mailer": "MAILER_HEALTH_PORT",
    "scheduler": "SCHEDULER_METRICS_PORT",
}
#: What an operator looks for first; a panel may be renamed only together with this list.
REQUIRED_PANELS = (
    "API request rate",
    "API latency",
    "Outbox backlog",
    "Oldest unpublished row",
    "Publish rate",
    "Publish latency",
    "Parked rows",
    "Consumer lag",
    "Emails",
    "Dead letters (24 h)",
    "Last digest run",
)
# Our metrics all start with the service's name; PromQL's functions and labels never do.
_METRIC = re.compile(r"\b((?:api|relay|mailer|scheduler)_[a-z0-9_]+)\b")
_PAIRS = {")": "(", "}": "{", "]": "["}


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of every panel."""
    return [t.get("expr", "") for p in dashboard.get("panels", []) for t in p.get("targets", [])]


def metric_names(dashboard: dict[str, Any]) -> set[str]:
    """The metric (sample) names the dashboard's queries read."""
    return {name for expr in queries(dashboard) for name in _METRIC.findall(expr)}


def _balanced(expr: str) -> bool:
    stack: list[str] = []
    for char in re.sub(r'"[^"]*"', '""', expr):  # brackets inside label values do not count
        if char in "({[":
            stack.append(char)
        elif char in _PAIRS and (not stack or stack.pop() != _PAIRS[char]):
            return False
    return not stack


def problems(dashboard: dict[str, Any], datasource_uid: str) -> list[str]:
    """Everything wrong with the dashboard, one sentence each."""
    found: list[str] = []
    for key in ("uid", "title", "schemaVersion", "panels"):
        if key not in dashboard:
            found.append(f"the dashboard has no {key!r}")
    panels = dashboard.get("panels", [])
    titles = [p.get("title") for p in panels]
    found += [f"no panel titled {t!r}" for t in REQUIRED_PANELS if t not in titles]
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids):
        found.append(f"panel ids repeat: {ids}")
    for panel in panels:
        name = panel.get("title", panel.get("id"))
        if panel.get("datasource", {}).get("uid") != datasource_uid:
            found.append(f"panel {name!r} does not use data source {datasource_uid!r}")
        if not panel.get("targets"):
            found.append(f"panel {name!r} has no query")
        if "gridPos" not in panel:
            found.append(f"panel {name!r} has no gridPos")
        refs = [t.get("refId") for t in panel.get("targets", [])]
        if len(set(refs)) != len(refs):
            found.append(f"panel {name!r}: refIds repeat: {refs}")
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            if target.get("datasource", {}).get("uid") != datasource_uid:
                found.append(f"panel {name!r}: query {expr!r} has another data source")
            if not _METRIC.search(expr):
                found.append(f"panel {name!r}: query {expr!r} reads none of our metrics")
            if not _balanced(expr):
                found.append(f"panel {name!r}: query {expr!r} has unbalanced brackets")
    return found


def provisioned_uid(path: Path = DATASOURCES) -> str:
    sources = yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    [prometheus] = [s for s in sources if s["type"] == "prometheus"]
    return str(prometheus["uid"])


def scrape_problems(scrapes: dict[str, Any], compose: dict[str, Any]) -> list[str]:
    """Each service scraped once, at `service:port` with the port compose configures."""
    targets = {
        job["job_name"]: [t for c in job.get("static_configs", []) for t in c.get("targets", [])]
        for job in scrapes.get("scrape_configs", [])
    }
    found = []
    for service, variable in METRICS_PORTS.items():
        port = compose["services"].get(service, {}).get("environment", {}).get(variable)
        expected = [f"{service}:{port}"]
        if targets.get(service) != expected:
            found.append(f"Prometheus scrapes {service} at {targets.get(service)}, not {expected}")
    return found


def main() -> int:
    try:
        found = problems(load(), provisioned_uid())
        found += scrape_problems(
            yaml.safe_load(SCRAPES.read_text(encoding="utf-8")),
            yaml.safe_load(COMPOSE.read_text(encoding="utf-8")),
        )
    except (OSError, ValueError, KeyError) as error:
        found = [f"cannot read the dashboard or its data source: {error}"]
    for problem in found:
        sys.stderr.write(f"{DASHBOARD.relative_to(ROOT)}: {problem}\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
