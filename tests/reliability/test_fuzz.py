"""Every operation of the OpenAPI document, fuzzed by schemathesis against the real app.

The app runs under uvicorn, wired to the emulator, with the bearer token. For each
operation schemathesis generates requests from the document: positive data (valid by
the schema) and negative data (invalid by it). Each reply must not be a 5xx, must have
a documented status, content type, headers and body schema, valid data must not be
refused (only 404 and 409 are allowed besides 2xx: nothing found, leased to another)
and invalid data must be refused with a 4xx. Requests that reach a token-guarded
operation are also sent without the token and with a wrong one (``ignored_auth``).

Quick mode runs a fixed (derandomized) set of examples per operation; ``--long`` runs
many more, freshly random. The document is the app's own, so a new endpoint is fuzzed
without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.requests import ManagedCookiesSession

from app.api.throttle import Throttle
from app.configuration.environment import Settings
from app.main import create_app
from emulator import Emulator, EmulatorServer
from emulator.runner import ThreadedServer
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import FAST_RETRY, Service
from tests.reliability.ledger import Ledger

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
    ignored_auth,
]
# Valid data may still find nothing (404) or an image leased to another publisher (409);
# invalid data must be refused, and never with a 5xx.
CONFIG = {
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409"]},
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "405", "413", "415", "422"]
        },
    }
}


def examples(long_mode: bool) -> int:
    return 400 if long_mode else 25


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for both modes: the checks hold whatever state earlier requests left
    (valid data may find nothing, 404, or a lease of another, 409)."""
    emulator = Emulator()
    emulator.bulk_generate("/Photos", 40, duplicate_every=7)
    emulator.put_file("/Photos/img_000001.txt", b"a sidecar")
    emulator.create_folder("/Archive")
    with EmulatorServer(emulator) as dropbox:
        values: dict[str, Any] = {  # as make_settings and start_service give them
            "dropbox_base_url": dropbox.base_url,
            "dropbox_folder": "/Photos",
            "dropbox_access_token": emulator.access_token,
            "dropbox_app_key": emulator.app_key,
            "dropbox_app_secret": emulator.app_secret,
            "api_token": API_TOKEN,
            "state_dir": tmp_path_factory.mktemp("fuzz") / "state",
            "log_format": "console",
            "near_duplicate_hashing": False,
            "archive_folder": "/Archive",
        }
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        # Schemathesis sends hundreds of wrong tokens from one address and expects each to
        # be a 401; guessing's throttle (tests/integration/test_guessing.py) would answer 429.
        app = create_app(settings, retry=FAST_RETRY, environ={}, throttle=Throttle(limit=1_000_000))
        server = ThreadedServer(app).start()
        with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=30, verify=TLS) as client:
            service = Service(settings, app, server, client)
            try:
                service.wait_ready()
                yield service
            finally:
                server.stop()


@pytest.fixture(scope="module")
def operations(fuzzed: Service) -> list[Any]:
    """The operations of the app's own document, read once."""
    document = fuzzed.client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(CONFIG))
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_contract(
    fuzzed: Service, operations: list[Any], long_mode: bool, ledger: Ledger, mode: GenerationMode
) -> None:
    entry = ledger.entry("OpenAPI fuzz of every operation (schemathesis)")
    assert len(operations) >= 11, "the document lost operations"
    failures: list[str] = []
    # One connection for every request, its cookies dropped between them, as schemathesis's
    # own runner sends them.
    with ManagedCookiesSession() as session:
        for operation in operations:
            count = examples(long_mode)
            tried = fuzz(operation, mode, fuzzed.base_url, session, count, long_mode, failures)
            entry.inputs += tried
    entry.trials += 1
    entry.wrong += len(failures)
    entry.notes[:] = [
        f"{len(operations)} operations, positive and negative data, up to "
        f"{examples(long_mode)} examples each per mode; checks: "
        + ", ".join(check.__name__ for check in CHECKS)
    ]
    assert not failures, "\n\n".join(failures)


def fuzz(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    session: Any,
    count: int,
    long_mode: bool,
    failures: list[str],
) -> int:
    """Run ``count`` generated cases against ``operation``; return how many were sent."""
    sent = 0

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=not long_mode,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        checks = checks_for(operation, case)
        case.call_and_validate(base_url=base_url, session=session, headers=AUTH, checks=checks)

    try:
        run()
    except Unsatisfiable:
        # Negative mode only: an operation without parameters, body or token has nothing
        # to make invalid (/healthz, /readyz, POST /webhook as documented).
        if mode is not GenerationMode.NEGATIVE:
            raise
    except (Exception, FailureGroup) as exc:  # one operation's failure must not hide others'
        failures.append(f"{operation.label} ({mode.value}): {exc}")
    return sent


def checks_for(operation: Any, case: Any) -> list[Any]:
    """Every check, except acceptance of valid data in two cases the document can't say.

    At /webhook: Dropbox signs each notification with the app secret, which no
    generator can do (403 is right), and an empty ``challenge`` is refused with 400 as
    the SPEC says. And a body with a float such as ``60.0`` where an integer goes:
    JSON Schema counts it an integer, but the bodies are strict on purpose (a float is
    refused with 422, app/api/routes/select.py). And a page's ``after``: a cursor is only
    valid as the service handed it out, which no generator can guess (any other is
    refused with 422). And a hold's ``until``: a date-time, which must also be in the
    future (a past one is refused with 422), which a document can't say. Every other
    check still runs on them.
    """
    cursor = isinstance(case.query, dict) and "after" in case.query
    until = isinstance(case.body, dict) and case.body.get("until") is not None
    if operation.path == "/webhook" or has_integral_float(case.body) or cursor or until:
        return [check for check in CHECKS if check is not positive_data_acceptance]
    return CHECKS


def has_integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(has_integral_float(item) for item in value.values())
    if isinstance(value, list):
        return any(has_integral_float(item) for item in value)
    return False
