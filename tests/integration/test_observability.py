"""What an operator sees: every metric family at ``/metrics``, JSON log events, no secrets.

One scripted session drives the real service, wired to the emulator with signed
webhooks: catch-ups (one with a server error retried, one with a cursor reset),
selections of every outcome, a lease, a release, a posted, webhooks accepted, rejected
and ignored, and a legacy import that must download its one image over 4 MiB. The log
is the service's own ``setup_logging("DEBUG", "json")`` handler, pointed at a buffer.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.log import flush_logging, setup_logging
from emulator import Emulator, signature
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

OTHER_ACCOUNT = "dbid:AAOtherAcc0untN0tOursAtA11xxxxxxxxxxx"
BIG = 5 * 1024 * 1024

# Each family of issue 7, by name (counters without the ``_total`` suffix).
FAMILIES = {
    "unposted_selection_images_considered": "images considered during selection",
    "unposted_selection_downloads": "images downloaded during selection",
    "unposted_selections": "selections by outcome",
    "unposted_selection_seconds": "selection time",
    "unposted_leases": "leases",
    "unposted_posted": "posted",
    "unposted_catch_up_runs": "catch-up runs",
    "unposted_catch_up_seconds": "catch-up duration",
    "unposted_catch_up_pages": "catch-up pages",
    "unposted_catch_up_entries": "catch-up entries",
    "unposted_catch_up_resets": "catch-up resets",
    "unposted_webhooks": "webhooks received, rejected, ignored",
    "unposted_dropbox_calls": "Dropbox API calls by route and status",
    "unposted_dropbox_retries": "Dropbox retries",
    "unposted_dropbox_wait_seconds": "waits before retries",
    "unposted_library_images": "catalog gauges per library",
    "unposted_channel_images": "catalog gauges per channel",
    "unposted_legacy_import_downloads": "legacy import downloads",
}
LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "dropbox")


class _Flushed(io.StringIO):
    """A log buffer that, when read, first has every record handed over written out."""

    def getvalue(self) -> str:
        flush_logging()
        return super().getvalue()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The service's JSON logging, into a buffer; the logging setup is restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    named = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in LOGGERS}
    levels = {n: logging.getLogger(n).level for n in LOGGERS}
    buffer = _Flushed()
    setup_logging("DEBUG", "json", stream=buffer)
    yield buffer
    flush_logging()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (handlers, propagate) in named.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.propagate = handlers, propagate
        logger.setLevel(levels[name])


def _select(service: Service, **body: Any) -> httpx.Response:
    return service.client.post("/select", json=body)


def _webhook(service: Service, body: bytes, secret: str | None) -> int:
    headers = {"X-Dropbox-Signature": signature(secret, body)} if secret else {}
    return httpx.post(
        f"{service.base_url}/webhook", content=body, headers=headers, verify=TLS
    ).status_code


def _notification(account_id: str) -> bytes:
    return json.dumps({"list_folder": {"accounts": [account_id]}, "delta": {"users": [7]}}).encode()


def _selections(service: Service) -> None:
    """Every outcome: leased, preview, not found, released, posted, no_new_images."""
    leased = _select(service, name="a.jpg").json()
    assert _select(service, dry_run=True, name="b.jpg").status_code == 200
    assert _select(service, name="missing.jpg").status_code == 404
    assert service.client.post("/release", json={"lease_id": leased["lease"]["id"]}).is_success
    for name in ("a.jpg", "b.jpg"):
        chosen = _select(service, name=name).json()
        body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
        assert service.client.post("/posted", json=body).status_code == 200
    held = _select(service)  # d.jpg, the last one left: big.jpg was imported as posted
    assert held.status_code == 200 and held.json()["name"] == "d.jpg", held.text
    assert _select(service).json()["error"] == "no_new_images"


def _webhooks(service: Service, emulator: Emulator) -> None:
    """A real change announced by a signed webhook, then a forged and a foreign one."""
    emulator.register_webhook(f"{service.base_url}/webhook")
    emulator.put_file("/Photos/d.jpg", b"image d")
    wait_until(lambda: _select(service, dry_run=True, name="d.jpg").status_code == 200, 10)
    assert _webhook(service, _notification(emulator.account_id), None) == 403
    assert _webhook(service, _notification(OTHER_ACCOUNT), emulator.app_secret) == 200


def _catch_ups_with_faults(service: Service, emulator: Emulator) -> None:
    emulator.faults.server_error("files/list_folder/continue", times=1)
    service.catch_up()
    emulator.faults.reset_next_continue()
    service.catch_up()
    assert service.worker.health.last_error is None


def _legacy_import(service: Service, emulator: Emulator) -> None:
    digest = hashlib.sha256(emulator.read("/Photos/big.jpg")).hexdigest()
    reply = service.client.post("/posted/import", json={"hashes": [digest]})
    report = reply.json()
    assert (report["imported"], report["matched"], report["unresolved"]) == (1, 1, 0)


@pytest.fixture
def session(emulator: Emulator, start_service: StartService, json_log: io.StringIO) -> Service:
    """The scripted session; the log and the metrics are read afterwards."""
    emulator.put_file("/Photos/a.jpg", b"image a")
    emulator.put_file("/Photos/a.txt", b"caption a")
    emulator.put_file("/Photos/b.jpg", b"image b")
    emulator.put_file("/Photos/big.jpg", size=BIG, seed=3)
    service = start_service()
    _webhooks(service, emulator)
    _catch_ups_with_faults(service, emulator)
    _legacy_import(service, emulator)
    _selections(service)
    return service


def _samples(service: Service) -> dict[str, list[Any]]:
    """Family name -> samples, parsed from ``/metrics`` as Prometheus would."""
    reply = service.client.get("/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(reply.text)}


def _value(samples: list[Any], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    return sum(found)


def test_metrics_show_every_family_after_a_session(session: Service) -> None:
    families = _samples(session)
    missing = {name: what for name, what in FAMILIES.items() if name not in families}
    assert not missing, f"families missing from /metrics: {missing}"

    def value(family: str, suffix: str = "_total", **labels: str) -> float:
        return _value(families[family], family + suffix, **labels)

    assert value("unposted_selection_images_considered") >= 5
    assert value("unposted_selection_downloads") == 0, "selection must never download"
    for outcome in ("selected", "preview", "not_found", "no_new_images"):
        assert value("unposted_selections", outcome=outcome) >= 1, outcome
    assert value("unposted_selection_seconds", "_count") >= 7
    for event in ("granted", "released", "posted"):
        assert value("unposted_leases", event=event) >= 1, event
    assert value("unposted_posted") == 2
    assert value("unposted_catch_up_runs", result="ok") >= 3
    assert value("unposted_catch_up_seconds", "_count") >= 3
    assert value("unposted_catch_up_pages") >= 3 and value("unposted_catch_up_entries") >= 5
    assert value("unposted_catch_up_resets") == 1
    for outcome in ("accepted", "rejected", "ignored"):
        assert value("unposted_webhooks", outcome=outcome) >= 1, outcome
    assert value("unposted_dropbox_calls", route="files/list_folder", status="ok") >= 1
    assert value("unposted_dropbox_calls", route="files/list_folder/continue", status="503") == 1
    assert value("unposted_dropbox_retries", reason="unavailable") == 1
    assert value("unposted_dropbox_wait_seconds") > 0
    assert value("unposted_legacy_import_downloads") == 1
    gauges = {s.labels["state"]: s.value for s in families["unposted_library_images"]}
    assert gauges["images"] == gauges["unique_images"] == 4
    gauges = {s.labels["state"]: s.value for s in families["unposted_channel_images"]}
    assert (gauges["available"], gauges["leased"]) == (0, 1)
    exported = session.client.get("/posted/export").json()["dropbox_content_hashes"]
    assert gauges["posted"] == len(exported) >= 3


def _events(log: io.StringIO) -> list[dict[str, Any]]:
    lines = log.getvalue().splitlines()
    assert lines, "nothing was logged"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    return records


def test_logs_are_json_lines_with_the_events_of_issue_7(
    session: Service, json_log: io.StringIO
) -> None:
    records = _events(json_log)
    seen = {record.get("event") for record in records}
    for event in (
        "image_selection_start",
        "image_selection_complete",
        "catch_up_start",
        "catch_up_page",
        "catch_up_complete",
        "catch_up_reset",
        "webhook_accepted",
        "webhook_rejected",
        "webhook_ignored",
        "dropbox_retry",
        "dropbox_error",
        "legacy_import_download",
    ):
        assert event in seen, f"no {event} event in the log"
    complete = [r for r in records if r.get("event") == "image_selection_complete"]
    outcomes = {r["outcome"] for r in complete}
    assert {"selected", "preview", "not_found", "no_new_images"} <= outcomes
    for record in complete:
        assert record["downloads"] == 0 and record["ms"] >= 0 and "considered" in record
    finished = [r for r in records if r.get("event") == "catch_up_complete"]
    assert all(r["pages"] >= 1 and r["seconds"] >= 0 and "entries" in r for r in finished)


def test_secrets_never_reach_logs_or_metrics(
    session: Service, json_log: io.StringIO, emulator: Emulator
) -> None:
    text = json_log.getvalue() + session.client.get("/metrics").text
    assert len(text) > 1000
    for secret in (API_TOKEN, emulator.app_secret, emulator.access_token, emulator.refresh_token):
        assert secret not in text


def test_console_format_when_asked(json_log: io.StringIO) -> None:
    console = _Flushed()
    setup_logging("INFO", "console", stream=console)
    logging.getLogger("app.services.selection").info("image selection complete: %s", "leased")
    line = console.getvalue().strip()
    assert (
        line.endswith("app.services.selection: image selection complete: leased") and "INFO" in line
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
