"""The harness's service process is the one that answers on its port, never another.

``ServiceProcess`` picks a free port, and the service binds it a second later: another
test's server may take the port meanwhile. The service then exits ("cannot listen"),
and the other server, answering ``/healthz`` in its place, must not pass for it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from emulator import Emulator, EmulatorServer
from emulator.runner import ThreadedServer
from tests.reliability.process import ServiceProcess, listening


def _healthy(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_a_port_taken_before_the_service_binds_it_is_left_to_its_holder(tmp_path: Path) -> None:
    emulator = Emulator()
    emulator.create_folder("/Photos")
    other = Starlette(routes=[Route("/healthz", _healthy)])
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state")
        taken = service.port
        with ThreadedServer(other, port=taken, lifespan="off", name="other"):
            try:
                service.start()
                assert service.port != taken and service.base_url.endswith(f":{service.port}")
                assert listening(service.pid, service.port) and not listening(service.pid, taken)
                assert service.client.get("/status").json()["images"] == 0  # the service's own
            finally:
                service.close()
        said = (tmp_path / "state" / "service-stderr.log").read_text()
        assert f"cannot listen on 127.0.0.1:{taken}" in said
