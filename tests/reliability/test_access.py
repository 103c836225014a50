"""Who gets in, and where secrets never go.

Every route of the app, enumerated from ``app.routes`` (so a new endpoint is covered
without touching this file), refuses a missing or wrong bearer token with 401 JSON,
except the three the SPEC leaves open: ``/webhook`` (Dropbox signs instead),
``/healthz`` and ``/readyz``, and the console's pages for people (``/``, ``/console/...``,
``/docs``, ``/redoc``), which answer anyone without a console session, whatever token
they send, with a trip to the sign-in page and change nothing; only the sign-in page
and the console's stylesheet, script and placeholder picture are open. The OpenAPI
document is served behind the token (or a console session) like the rest.

The API token, the app secret and the Dropbox access and refresh tokens (and every
short-lived token issued by a refresh) never appear in the service's logs, captured at
DEBUG through a whole scripted session with errors and Dropbox faults, nor in any reply
body or header, nor in ``/metrics``. Checked in-process (every log record with its
extra fields) and in a real ``python -m app serve`` process (its JSON log lines).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.api.throttle import Throttle
from emulator import Emulator, EmulatorServer, signature
from tests.conftest import API_TOKEN, TLS, MakeSettings
from tests.integration.conftest import Service, StartService
from tests.reliability.ledger import Ledger
from tests.reliability.process import free_port, nothing_awaits_fingerprint
from tests.waiting import wait_until

PUBLIC = {("GET", "/webhook"), ("POST", "/webhook"), ("GET", "/healthz"), ("GET", "/readyz")}
CONSOLE_OPEN = {
    ("GET", "/console/sign-in"), ("POST", "/console/sign-in"), ("GET", "/console/static/x"),
}  # fmt: skip


def for_people(path: str) -> bool:
    """A console page: a session, not a bearer token, lets a person in."""
    return path == "/" or path.startswith("/console/") or path in ("/docs", "/redoc")


SOME_HASH = "ab" * 32
# Bodies that would do something if the token were not checked: a refusal must be the
# token's doing, not the body's.
BODIES: dict[str, Any] = {
    "/select": {},
    "/posted": {"content_hash": SOME_HASH},
    "/release": {"lease_id": "some-lease"},
    "/posted/import": [SOME_HASH],
    "/admin/reset-posted": {"confirm": "RESET"},
}
# These tests make hundreds of wrong guesses from one address: with guessing throttled
# (tests/integration/test_guessing.py), all but the first 20 would be answered 429.
UNTHROTTLED = Throttle(limit=1_000_000)
ISSUED_TOKEN = re.compile(r"sl\.emu-[A-Za-z0-9_-]{8,}")


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, path parameters filled in."""
    found = set()
    for route in iter_route_contexts(app.routes):
        path = re.sub(r"\{[^}]+\}", "x", route.path_format or "")
        for method in route.methods or ():
            found.add((method, path))
    return sorted(found)


def wrong_credentials(emulator: Emulator) -> dict[str, dict[str, str]]:
    return {
        "missing": {},
        "empty bearer": {"Authorization": "Bearer"},
        "wrong token": {"Authorization": "Bearer not-the-token"},
        "token plus a byte": {"Authorization": f"Bearer {API_TOKEN}x"},
        "token minus a byte": {"Authorization": f"Bearer {API_TOKEN[:-1]}"},
        "token, other case": {"Authorization": f"Bearer {API_TOKEN.upper()}"},
        "basic scheme": {"Authorization": f"Basic {API_TOKEN}"},
        "no scheme": {"Authorization": API_TOKEN},
        "the app secret": {"Authorization": f"Bearer {emulator.app_secret}"},
        "the dropbox token": {"Authorization": f"Bearer {emulator.access_token}"},
        "token in another header": {"X-Api-Token": API_TOKEN, "Cookie": f"token={API_TOKEN}"},
    }


def attempt(
    client: httpx.Client, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    body = BODIES.get(path)
    content = json.dumps(body).encode() if body is not None and method == "POST" else None
    sent = {"Content-Type": "application/json", **headers} if content else headers
    query = {"token": API_TOKEN, "api_token": API_TOKEN}  # the token there must not count
    return client.request(method, path, content=content, headers=sent, params=query)


def export_and_status(service: Service) -> tuple[Any, ...]:
    status = service.client.get("/status").json()
    status.pop("last_sync_at", None)
    status.pop("syncing", None)
    return service.client.get("/posted/export").json(), status


def test_every_route_but_three_refuses_a_missing_or_wrong_token(
    emulator: Emulator, start_service: StartService, ledger: Ledger
) -> None:
    entry = ledger.entry("access: every route without or with a wrong token")
    emulator.bulk_generate("/Photos", 5)
    service = start_service(throttle=UNTHROTTLED)
    guarded = [
        (m, p) for m, p in routes(service.app)
        if (m, p) not in PUBLIC and m != "HEAD" and not for_people(p)
    ]  # fmt: skip
    assert {("GET", "/openapi.json"), ("POST", "/select"), ("GET", "/metrics")} <= set(guarded)
    before = export_and_status(service)
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as anonymous:
        for method, path in guarded:
            for why, headers in wrong_credentials(emulator).items():
                reply = attempt(anonymous, method, path, headers)
                entry.inputs += 1
                ok = (
                    reply.status_code == 401
                    and reply.json()["error"] == "unauthorized"
                    and set(reply.json()) == {"error", "message"}
                    and reply.headers["www-authenticate"] == "Bearer"
                )
                entry.wrong += not ok
                assert ok, f"{method} {path} with {why}: {reply.status_code} {reply.text}"
        entry.trials += 1
    assert export_and_status(service) == before
    assert entry.wrong == 0


def test_the_three_open_routes_need_no_token(emulator: Emulator, service: Service) -> None:
    good = json.dumps({"list_folder": {"accounts": [emulator.account_id]}}).encode()
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
        assert anonymous.get("/webhook", params={"challenge": "c"}).text == "c"
        signed = {"X-Dropbox-Signature": signature(emulator.app_secret, good)}
        assert anonymous.post("/webhook", content=good, headers=signed).status_code == 200
        # /webhook is open to Dropbox, not to anyone: without the signature it is 403.
        assert anonymous.post("/webhook", content=good).status_code == 403


def test_every_console_page_sends_a_person_without_a_session_to_sign_in(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", 5)
    service = start_service()
    pages = [(m, p) for m, p in routes(service.app) if for_people(p) and m != "HEAD"]
    assert ("GET", "/") in pages and ("POST", "/console/libraries/x/resync") in pages
    before = export_and_status(service)
    forged = {"Cookie": "unposted_session=eyJ4Ijoi.forged", "Authorization": f"Bearer {API_TOKEN}"}
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as anonymous:
        for method, path in pages:
            if (method, path) in CONSOLE_OPEN:
                continue
            for headers in (*wrong_credentials(emulator).values(), forged):
                reply = attempt(anonymous, method, path, headers)
                assert reply.status_code == 303, (method, path, headers, reply.text)
                assert reply.headers["location"].startswith("/console/sign-in?next=")
    assert export_and_status(service) == before


def test_the_schema_needs_the_token_and_the_docs_pages_a_session(service: Service) -> None:
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as anonymous:
        for path in ("/docs", "/redoc"):
            assert anonymous.get(path).headers["location"].startswith("/console/sign-in"), path
        reply = anonymous.get("/docs/oauth2-redirect")
        assert (reply.status_code, reply.json()["error"]) == (404, "not_found")
        assert anonymous.get("/openapi.json").status_code == 401
    document = service.client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.") and "/select" in document["paths"]


def test_no_token_configured_lets_no_one_in(
    emulator: Emulator, start_service: StartService
) -> None:
    service = start_service(api_token=None, throttle=UNTHROTTLED)
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as anonymous:
        for method, path in routes(service.app):
            if (method, path) in PUBLIC or method == "HEAD" or for_people(path):
                continue
            for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer None"}):
                reply = attempt(anonymous, method, path, headers)
                assert reply.status_code == 401, (method, path, headers, reply.text)


# -- secrets ---------------------------------------------------------------------------
@dataclass
class Secrets:
    """The values that must never be seen, and what was seen."""

    named: dict[str, str]
    replies: list[httpx.Response] = field(default_factory=list)

    def found_in(self, text: str) -> list[str]:
        leaked = [name for name, value in self.named.items() if value in text]
        return leaked + [f"issued token {m}" for m in ISSUED_TOKEN.findall(text)]

    def check_replies(self) -> list[str]:
        problems = []
        for reply in self.replies:
            seen = reply.text + json.dumps(dict(reply.headers))
            for leak in self.found_in(seen):
                problems.append(f"{reply.request.method} {reply.request.url.path}: {leak}")
        return problems


@pytest.fixture
def emulator() -> Emulator:
    """An emulator whose secrets are random, so finding one anywhere is never chance."""
    emu = Emulator(
        app_key="key-" + secrets.token_hex(8),
        app_secret="app-secret-" + secrets.token_hex(16),
        access_token="access-" + secrets.token_hex(16),
        refresh_token="refresh-" + secrets.token_hex(16),
    )
    emu.create_folder("/Photos")
    return emu


def the_secrets(emulator: Emulator) -> Secrets:
    return Secrets(
        {
            "API token": API_TOKEN,
            "app secret": emulator.app_secret,
            "Dropbox access token": emulator.access_token,
            "Dropbox refresh token": emulator.refresh_token,
        }
    )


def scripted_session(emulator: Emulator, base_url: str, seen: Secrets) -> int:
    """A publisher's and an operator's day, with mistakes, refusals and Dropbox faults;
    returns how many Dropbox faults it injected."""
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    wrong = {"Authorization": "Bearer wrong-token"}
    good = json.dumps({"list_folder": {"accounts": [emulator.account_id]}}).encode()
    with httpx.Client(base_url=base_url, headers=auth, timeout=30, verify=TLS) as client:

        def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            reply = client.request(method, path, **kwargs)
            seen.replies.append(reply)
            return reply

        call("GET", "/healthz"), call("GET", "/readyz"), call("GET", "/status")
        chosen = call("POST", "/select", json={"link": True}).json()
        call("POST", "/select", json={"dry_run": True, "name": "img_000001.jpg"})
        call("POST", "/select", json={"name": "../../etc/passwd"})
        call("POST", "/select", json={"lease_seconds": "forever"})
        call("POST", "/select", content=b"{not json", headers={"Content-Type": "application/json"})
        call("POST", "/posted", json={"content_hash": chosen["content_hash"], "archive": True})
        call("POST", "/posted", json={"content_hash": chosen["content_hash"]})
        call("POST", "/release", json={"lease_id": "no-such-lease"})
        call("POST", "/posted/import", content=b'{"hashes": [1, 2]}')
        call("POST", "/posted/import", json={"hashes": [SOME_HASH]})
        call("GET", "/posted/export")
        call("POST", "/admin/reset-posted", json={"confirm": "yes"})
        call("GET", "/status", headers=wrong)
        call("GET", "/openapi.json")
        call("GET", "/webhook", params={"challenge": "hello"})
        call("POST", "/webhook", content=good, headers={"X-Dropbox-Signature": "0" * 64})
        call("POST", "/webhook", content=b"junk", headers={"X-Dropbox-Signature": "junk"})
        # Dropbox misbehaves, then the short-lived token runs out: a refresh is needed.
        emulator.faults.server_error("files/list_folder/continue", status=500, times=2)
        emulator.faults.rate_limit("files/list_folder/continue", retry_after=1, times=1)
        emulator.put_file("/Photos/new.jpg", b"new image")
        signed = {"X-Dropbox-Signature": signature(emulator.app_secret, good)}
        call("POST", "/webhook", content=good, headers=signed)
        wait_until(lambda: selectable(client, "new.jpg"), 30)
        call("POST", "/admin/resync")
        emulator.invalidate_cursors()
        emulator.put_file("/Photos/newer.jpg", b"newer image")
        call("POST", "/webhook", content=good, headers=signed)
        wait_until(lambda: selectable(client, "newer.jpg"), 30)
        call("GET", "/status"), call("GET", "/metrics")
    return 4  # two 500s, a 429, a cursor reset (token expiries come on top)


def selectable(client: httpx.Client, name: str) -> bool:
    return client.post("/select", json={"dry_run": True, "name": name}).status_code == 200


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could print: the message, the extras, the traceback."""
    parts = [record.getMessage(), repr(record.__dict__)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@pytest.mark.parametrize("credential", ["refresh token", "access token"])
def test_secrets_never_reach_logs_replies_or_metrics(
    emulator: Emulator,
    start_service: StartService,
    caplog: pytest.LogCaptureFixture,
    ledger: Ledger,
    credential: str,
) -> None:
    entry = ledger.entry("secrets: logs, replies, headers and /metrics grepped")
    for name in ("", "app", "state", "webhooks", "dropbox", "urllib3", "uvicorn", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)
    emulator.bulk_generate("/Photos", 20)
    emulator.access_token_ttl = 1  # tokens from the refresh grant expire during the session
    overrides: dict[str, Any] = {"archive_folder": "/Archive", "reconcile_seconds": 1}
    if credential == "refresh token":
        overrides |= {"dropbox_refresh_token": emulator.refresh_token, "dropbox_access_token": None}
    service = start_service(**overrides)
    seen = the_secrets(emulator)
    entry.faults += scripted_session(emulator, service.base_url, seen)
    if credential == "refresh token":
        assert emulator.counters.calls("oauth2/token", 200) >= 2, "no refresh happened"
    records = [r for r in caplog.records if not r.name.startswith("emulator")]
    assert any(r.levelno == logging.DEBUG for r in records)
    assert any("catch-up failed" in r.getMessage() or r.levelno >= logging.WARNING for r in records)
    leaks = [f"log {r.name}: {leak}" for r in records for leak in seen.found_in(record_text(r))]
    leaks += seen.check_replies()
    entry.trials += 1
    entry.inputs += len(seen.replies) + len(records)
    entry.wrong += len(leaks)
    assert leaks == []


@dataclass
class LoggedProcess:
    """``python -m app serve`` at DEBUG, JSON logs to a file, against an emulator."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path


@pytest.fixture
def logged_process(
    emulator: Emulator, tmp_path: Path, make_settings: MakeSettings
) -> Iterator[LoggedProcess]:
    emulator.bulk_generate("/Photos", 20)
    emulator.access_token_ttl = 1
    with EmulatorServer(emulator) as server:
        port = free_port()
        ours = ("DROPBOX_", "API_", "SYNC_", "LEASE_", "SELECT_", "LOG_", "ARCHIVE_", "STATE_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        env.update(
            DROPBOX_BASE_URL=server.base_url,
            DROPBOX_REFRESH_TOKEN=emulator.refresh_token,
            DROPBOX_APP_KEY=emulator.app_key,
            DROPBOX_APP_SECRET=emulator.app_secret,
            DROPBOX_FOLDER="/Photos",
            ARCHIVE_FOLDER="/Archive",
            API_TOKEN=API_TOKEN,
            STATE_DIR=str(tmp_path / "state"),
            LOG_LEVEL="DEBUG",
            LOG_FORMAT="json",
            RECONCILE_SECONDS="1",
        )
        log = tmp_path / "service.log"
        with log.open("wb") as sink:
            command = [sys.executable, "-m", "app", "serve", "--port", str(port)]
            process = subprocess.Popen(
                command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path
            )
            running = LoggedProcess(process, f"http://127.0.0.1:{port}", log)
            try:
                wait_until(lambda: answers_ready(running), 60, 0.05)
                yield running
            finally:
                process.terminate()
                process.wait(timeout=60)


def answers_ready(running: LoggedProcess) -> bool:
    """Ready, and no picture waits for its fingerprint: the channel holds those back, and
    the session's first selection must find one (it found none once, 0.1 s after ready)."""
    assert running.process.poll() is None, running.log.read_text()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        if httpx.get(running.base_url + "/readyz", timeout=5, verify=TLS).status_code != 200:
            return False
        status = httpx.get(running.base_url + "/status", headers=auth, timeout=5, verify=TLS)
    except httpx.TransportError:
        return False
    return nothing_awaits_fingerprint(status)


def test_a_real_process_logging_at_debug_leaks_no_secret(
    emulator: Emulator, logged_process: LoggedProcess, ledger: Ledger
) -> None:
    entry = ledger.entry("secrets: logs, replies, headers and /metrics grepped")
    seen = the_secrets(emulator)
    entry.faults += scripted_session(emulator, logged_process.base_url, seen)
    logged_process.process.terminate()
    logged_process.process.wait(timeout=60)
    lines = logged_process.log.read_text().splitlines()
    assert len(lines) > 20 and any('"DEBUG"' in line for line in lines)
    assert emulator.counters.calls("oauth2/token", 200) >= 2, "no refresh happened"
    leaks = [
        f"log line {n}: {leak}" for n, line in enumerate(lines) for leak in seen.found_in(line)
    ]
    leaks += seen.check_replies()
    entry.trials += 1
    entry.inputs += len(seen.replies) + len(lines)
    entry.wrong += len(leaks)
    entry.notes[:] = [
        "two in-process sessions (refresh token, access token) with every log record at "
        "DEBUG, extras and tracebacks included; one `python -m app serve` process at "
        "LOG_LEVEL=DEBUG, JSON lines; each session has refusals, malformed bodies, forged "
        "webhooks, Dropbox 500s and 429s, a cursor reset and token refreshes"
    ]
    assert leaks == []
