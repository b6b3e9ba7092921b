"""The dashboard lint catches what it is there for: a lost panel, another data source, a typo."""

from __future__ import annotations

import copy
import importlib.util
from types import ModuleType
from typing import Any

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit


def _checker() -> ModuleType:
    path = ROOT / "scripts" / "check_dashboard.py"
    spec = importlib.util.spec_from_file_location("check_dashboard", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _checker()


@pytest.fixture
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = check.load()
    return copy.deepcopy(loaded)


def test_the_committed_dashboard_passes_with_the_provisioned_data_source(
    dashboard: dict[str, Any],
) -> None:
    assert check.problems(dashboard, check.provisioned_uid()) == []


def test_a_missing_required_panel_is_reported(dashboard: dict[str, Any]) -> None:
    dashboard["panels"] = [p for p in dashboard["panels"] if p["title"] != "Consumer lag"]
    assert check.problems(dashboard, "prometheus") == ["no panel titled 'Consumer lag'"]


def test_a_query_on_another_data_source_is_reported(dashboard: dict[str, Any]) -> None:
    dashboard["panels"][0]["targets"][0]["datasource"] = {"uid": "elsewhere"}
    [problem] = check.problems(dashboard, "prometheus")
    assert "has another data source" in problem


def test_a_broken_query_is_reported(dashboard: dict[str, Any]) -> None:
    dashboard["panels"][0]["targets"][0]["expr"] = "max(relay_outbox_parked"
    [problem] = check.problems(dashboard, "prometheus")
    assert "unbalanced brackets" in problem


def test_the_metric_names_are_read_from_every_query() -> None:
    expr = 'sum(rate(api_requests_total{status="5xx"}[5m])) / max(relay_outbox_parked)'
    names = check.metric_names({"panels": [{"targets": [{"expr": expr}]}]})
    assert names == {"api_requests_total", "relay_outbox_parked"}


def test_a_scrape_target_on_another_port_than_compose_gives_the_service_is_reported() -> None:
    compose = {
        "services": {
            "api": {"environment": {"API_PORT": 8000}},
            "relay": {"environment": {"RELAY_METRICS_PORT": 9108}},
            "mailer": {"environment": {"MAILER_HEALTH_PORT": 9103}},
            "scheduler": {"environment": {"SCHEDULER_METRICS_PORT": 9105}},
        }
    }
    jobs = {"api": "api:8000", "relay": "relay:9109", "mailer": "mailer:9103"}
    scrapes = {
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [target]}]}
            for name, target in jobs.items()
        ]
    }
    assert check.scrape_problems(scrapes, compose) == [
        "Prometheus scrapes relay at ['relay:9109'], not ['relay:9108']",
        "Prometheus scrapes scheduler at None, not ['scheduler:9105']",
    ]
