"""The alert rules and the dashboard in ``deploy/`` work against the service as it runs.

``promtool`` (Debian's ``prometheus`` package; ``make test`` installs it when it can) checks
the rules and runs their unit tests (``deploy/prometheus/alerts.test.yml``); each alert is
shown to be tested by removing it and watching the tests fail. The dashboard's queries are
checked as PromQL by the same tool. Every metric the rules and the dashboard name is one the
service exposes. Last, a real Prometheus, started as the compose profile starts it, scrapes a
running service with the operator's token and loads the rules. Without ``promtool`` the tests
skip with one line, unless ``CI`` is set: there it is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulator import Emulator
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"
CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "unposted.json"
METRIC = re.compile(r"\bunposted_[a-z_]+")
_SUFFIXES = ("_bucket", "_count", "_sum")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"NO {name.upper()}: the monitoring tests did not run"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: Debian's prometheus package is required)")
        pytest.skip(message + " (install Debian's prometheus, or run `make test` as root)")
    return found


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_the_rules_are_valid_and_pass_their_unit_tests() -> None:
    checked = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in checked.stdout
    tested = _promtool("test", "rules", RULE_TESTS.name, cwd=RULES.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested(tmp_path: Path) -> None:
    """Each alert's unit tests fail without it, and fail when its threshold moves."""
    names = [rule["alert"] for rule in _alerts()]
    assert len(names) == 7 and len(set(names)) == 7
    for name in names:
        document = yaml.safe_load(RULES.read_text())
        for group in document["groups"]:
            group["rules"] = [rule for rule in group["rules"] if rule["alert"] != name]
        _write_beside_tests(tmp_path, document)
        tested = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
        assert tested.returncode != 0 and f"alertname: {name}" in _said(tested), name
    for name in names:  # every threshold doubled: caught, where the alert has one
        document = yaml.safe_load(RULES.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                if rule["alert"] == name:
                    rule["expr"] = _doubled(rule["expr"])
        if document == yaml.safe_load(RULES.read_text()):
            continue  # "== 0": no threshold to move
        _write_beside_tests(tmp_path, document)
        tested = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
        assert tested.returncode != 0 and f"alertname: {name}" in _said(tested), name


def _said(run: subprocess.CompletedProcess[str]) -> str:
    return run.stdout + run.stderr


def _doubled(expr: str) -> str:
    """The expression with each comparison's non-zero number doubled."""

    def double(found: re.Match[str]) -> str:
        number = float(found.group(2))
        return f"{found.group(1)} {number * 2 if number else 0:g}"

    return re.sub(r"(==|>=|<=|>|<)\s*(\d+(?:\.\d+)?)", double, expr)


def _write_beside_tests(folder: Path, rules: dict[str, Any]) -> None:
    (folder / RULES.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(RULE_TESTS, folder / RULE_TESTS.name)


def test_the_dashboards_queries_are_valid_promql(tmp_path: Path) -> None:
    queries = _dashboard_queries()
    assert len(queries) >= 12
    records = [{"record": f"dashboard:query_{n}", "expr": q} for n, q in enumerate(queries)]
    (tmp_path / "queries.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]})
    )
    checked = _promtool("check", "rules", "queries.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tmp_path / "broken.yml").write_text(  # the check does reject a bad query
        yaml.safe_dump({"groups": [{"name": "d", "rules": [{"record": "r", "expr": "rate(x["}]}]})
    )
    assert _promtool("check", "rules", "broken.yml", cwd=tmp_path).returncode != 0


def test_rules_and_dashboard_name_only_metrics_the_service_exposes(pictured: Service) -> None:
    exposition = pictured.client.get("/metrics").text
    families = set(re.findall(r"^# TYPE (\S+) ", exposition, flags=re.M))
    named = set(METRIC.findall(RULES.read_text())) | {
        name for query in _dashboard_queries() for name in METRIC.findall(query)
    }
    assert len(named) >= 10
    unknown = {name for name in named if not {name, _family(name)} & families}
    assert unknown == set()
    # The gauges the stale-catch-up and empty-channel alerts read carry samples already.
    assert 'unposted_catch_up_last_success_timestamp_seconds{library="default"}' in exposition
    assert 'unposted_channel_images{channel="default",state="available"}' in exposition


def _family(sample: str) -> str:
    """A histogram's family of its ``_bucket``, ``_count`` and ``_sum`` series."""
    for suffix in _SUFFIXES:
        if sample.endswith(suffix):
            return sample[: -len(suffix)]
    return sample


PICTURES = 3


@pytest.fixture
def pictured(emulator: Emulator, start_service: StartService) -> Service:
    for n in range(PICTURES):
        emulator.put_file(f"/Photos/pic-{n}.jpg", f"picture {n}".encode())
    return start_service()


@pytest.fixture
def prometheus(pictured: Service, tmp_path: Path) -> Iterator[str]:
    """Debian's Prometheus with ``deploy/prometheus/prometheus.yml``, as compose mounts it,
    but scraping the test's service every second with the token from a file."""
    binary = _tool("prometheus")
    token = tmp_path / "api_token"
    token.write_text(API_TOKEN)
    config = yaml.safe_load(CONFIG.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    job = config["scrape_configs"][0]
    job["authorization"]["credentials_file"] = str(token)
    job["static_configs"] = [{"targets": [pictured.base_url.removeprefix("http://")]}]
    shutil.copy(RULES, tmp_path / RULES.name)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--config.file=prometheus.yml", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'data'}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_prometheus_scrapes_the_service_and_loads_the_rules(
    pictured: Service, prometheus: str
) -> None:
    with httpx.Client(base_url=prometheus, timeout=10, verify=TLS) as client:

        def up() -> bool:
            try:
                reply = client.get("/api/v1/targets")
            except httpx.TransportError:
                return False
            if reply.status_code != 200:  # 503 while Prometheus starts
                return False
            targets = reply.json()["data"]["activeTargets"]
            return [target["health"] for target in targets] == ["up"]

        wait_until(up, 60, 0.2)
        query = 'unposted_channel_images{channel="default",state="available"}'
        wait_until(lambda: client.get("/api/v1/query", params={"query": query})
                   .json()["data"]["result"] != [], 30, 0.2)  # fmt: skip
        result = client.get("/api/v1/query", params={"query": query}).json()["data"]["result"]
        assert float(result[0]["value"][1]) == PICTURES
        groups = client.get("/api/v1/rules").json()["data"]["groups"]
        loaded = {rule["name"] for group in groups for rule in group["rules"]}
        assert loaded == {rule["alert"] for rule in _alerts()}
