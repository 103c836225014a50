"""An app made inside another program leaves that program's heap alone (``app.heap``).

Only ``serve``, whose process is the service alone, freezes what starting left alive
(``tests/integration/test_deployment_commands.py`` reads its ``heap_settled`` line): a
frozen object is never collected, so freezing a test's or an embedding program's heap
would keep whatever it later drops.
"""

from __future__ import annotations

import gc
import logging

import pytest

from tests.integration.conftest import StartService


def test_an_app_started_in_process_freezes_nothing(
    start_service: StartService, caplog: pytest.LogCaptureFixture
) -> None:
    before = gc.get_freeze_count()
    with caplog.at_level(logging.INFO, logger="app.heap"):
        service = start_service()
        assert service.client.get("/readyz").status_code == 200
    assert gc.get_freeze_count() == before
    assert not [r for r in caplog.records if getattr(r, "event", None) == "heap_settled"]
