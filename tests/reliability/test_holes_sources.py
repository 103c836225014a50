"""State built from another folder or account is never served: a restart lists afresh.

``serve`` runs on a state directory, posts one picture, stops; it is started again on
the same directory with another ``DROPBOX_FOLDER``, with ``DROPBOX_RECURSIVE`` flipped,
or with the credentials of another Dropbox account (a second account of the same
emulator). Each time the new process logs one ``library_relisted`` line, answers
``/readyz`` 503 (and ``/select`` 503 ``not_ready``) until its new listing (held until the
test has seen it not ready) completes; afterwards no selection ever hands out a file of
the old source, the posted state is what it was (a copy of the posted picture in the new source is
never offered), and notifications naming the account now in use are accepted, even
while Dropbox cannot say whose the credentials are. An archive move asked for during
the new listing moves nothing of the new account by the old catalog's paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from emulator import Emulator, EmulatorServer, account_id_for
from emulator.faults import Hold
from tests.reliability.holes import Publisher, notify, put_images, trials
from tests.reliability.ledger import Entry, Ledger
from tests.reliability.process import ServiceProcess
from tests.waiting import wait_until

LISTING_DELAY = 1.0


@dataclass
class Source:
    """Where a service draws from: the emulator account it holds credentials of, and env."""

    emulator: Emulator
    env: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Case:
    old: Source
    new: Source
    old_paths: set[str]  # what only the old source holds (path_lower)
    new_paths: set[str]
    posted: str  # a content hash posted under the old source; a copy is in the new one


def folder_case() -> tuple[Case, list[Emulator]]:
    emu = Emulator()
    old = put_images(emu, "/Photos", 4, "old")
    new = put_images(emu, "/Other", 4, "new")
    first = next(iter(old))
    new[emu.put_file("/Other/copy.jpg", emu.read(first)).path_display] = old[first]
    case = Case(Source(emu), Source(emu, {"DROPBOX_FOLDER": "/Other"}),
                lower(old), lower(new), old[first])  # fmt: skip
    return case, [emu]


def recursion_case() -> tuple[Case, list[Emulator]]:
    emu = Emulator()
    top = put_images(emu, "/Photos", 4, "top")
    sub = put_images(emu, "/Photos/sub", 4, "sub")
    first = next(iter(sub))
    top[emu.put_file("/Photos/copy.jpg", emu.read(first)).path_display] = sub[first]
    case = Case(Source(emu, {"DROPBOX_RECURSIVE": "true"}),
                Source(emu, {"DROPBOX_RECURSIVE": "false"}),
                lower(sub), lower(top), sub[first])  # fmt: skip
    return case, [emu]


def account_case() -> tuple[Case, list[Emulator]]:
    """Another account, and Dropbox slow to say whose the credentials are: the old
    account's catalog must not be served while the service waits for the answer."""
    alice, bob = Emulator(), Emulator(account_id=account_id_for("bob"))
    bob.faults.delay("users/get_current_account", LISTING_DELAY, times=1)
    old = put_images(alice, "/Photos", 4, "alice")
    new = put_images(bob, "/Photos", 4, "bob")
    first = next(iter(old))
    new[bob.put_file("/Photos/copy.jpg", alice.read(first)).path_display] = old[first]
    case = Case(Source(alice), Source(bob), lower(old), lower(new), old[first])
    return case, [alice, bob]


def lower(made: dict[str, str]) -> set[str]:
    return {path.lower() for path in made}


CASES = {"folder": folder_case, "recursion": recursion_case, "account": account_case}


@pytest.mark.parametrize("change", list(CASES))
def test_state_of_another_source_is_listed_afresh(
    change: str, tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("Restart on state of another folder, recursion or account")
    for trial in range(trials(long_mode)):
        case, accounts = CASES[change]()
        with EmulatorServer(*accounts) as server:
            relisted(case, server, tmp_path / f"{change}-{trial}", entry)
    assert (entry.wrong, entry.lost, entry.doubled) == (0, 0, 0)


def relisted(case: Case, server: EmulatorServer, root: Path, entry: Entry) -> None:
    state = root / "state"
    root.mkdir(parents=True)
    first = ServiceProcess(case.old.emulator, server.base_url, state, **case.old.env).start()
    try:
        assert first.client.post("/posted", json={"content_hash": case.posted}).status_code == 200
        before = first.client.get("/posted/export").json()
        first.stop()
    finally:
        first.close()

    # The new listing waits until the test has seen /readyz say so: a timed delay could
    # run out before a loaded machine lets the test look (it did once).
    listing = case.new.emulator.faults.hold("files/list_folder", times=1)
    log = root / "second.log"
    second = ServiceProcess(case.new.emulator, server.base_url, state, log, **case.new.env)
    publisher = None
    try:
        second.start(wait_ready=False)
        publisher = Publisher(second.base_url)
        during = watch_until_ready(second, publisher, case, listing)
        entry.trials += 1
        entry.wrong += during.served_old
        assert during.served_old == 0, "a file of the old source was served after the restart"
        assert during.not_ready > 0, "/readyz never said the new listing was under way"
        wait_until(second.fingerprinted, 60, 0.05)  # a ``skip`` channel holds new ones back

        offers, refusal = publisher.take_all()
        paths = {offer["path"].lower() for offer in offers}
        entry.wrong += len(paths & case.old_paths)
        entry.doubled += sum(offer["content_hash"] == case.posted for offer in offers)
        assert refusal.json()["error"] == "no_new_images", refusal.text
        assert paths == case.new_paths - {p for p in case.new_paths if p.endswith("/copy.jpg")}
        after = second.client.get("/posted/export").json()
        entry.lost += len(
            set(before["dropbox_content_hashes"]) - set(after["dropbox_content_hashes"])
        )
        assert after == before

        relistings = second.events("library_relisted")
        entry.wrong += len(relistings) != 1
        assert len(relistings) == 1, relistings
        assert notify(second.client, case.new.emulator) == "accepted"
    finally:
        listing.release()
        if publisher is not None:
            publisher.close()
        second.close()


@dataclass
class Watch:
    not_ready: int = 0
    ready: int = 0
    served_old: int = 0


def watch_until_ready(
    service: ServiceProcess, publisher: Publisher, case: Case, listing: Hold
) -> Watch:
    """From the first moment the process answers until it is ready: what did it serve?
    The held ``listing`` goes on once the process has been seen not ready."""
    seen = Watch()

    def check() -> bool:
        offer = publisher.client.post("/select", json={"dry_run": True})
        if offer.status_code == 200:
            seen.served_old += offer.json()["path"].lower() in case.old_paths
        else:  # not ready; or ready, with the new listing waiting for its fingerprints
            error = (offer.status_code, offer.json()["error"])
            assert error in {(503, "not_ready"), (404, "no_new_images")}, offer.text
        ready = service.client.get("/readyz").status_code == 200
        seen.ready += ready
        seen.not_ready += not ready
        if not ready:
            listing.release()
        return ready

    wait_until(check, 60, 0.02)
    return seen


def test_a_new_accounts_notifications_count_while_dropbox_cannot_say_whose(
    tmp_path: Path, ledger: Ledger
) -> None:
    """The stored account is what the catalog was built from, not whose credentials these
    are: until Dropbox says, a notification naming the new account still starts a catch-up."""
    entry = ledger.entry("Restart on another account while Dropbox cannot say whose")
    case, accounts = account_case()
    bob = case.new.emulator
    with EmulatorServer(*accounts) as server:
        first = ServiceProcess(case.old.emulator, server.base_url, tmp_path / "state").start()
        first.client.post("/posted", json={"content_hash": case.posted})
        first.stop()
        first.close()
        bob.faults.server_error("users/get_current_account", status=503, times=None)
        second = ServiceProcess(bob, server.base_url, tmp_path / "state").start()
        try:
            server.register_webhook(second.base_url + "/webhook")
            wait_until(lambda: second.client.get("/status").json()["images"] == 5, 30)
            bob.put_file("/Photos/late.jpg", b"arrived after the restart")
            wait_until(lambda: selectable(second, "late.jpg"), 10)
            entry.trials += 1
            entry.faults += bob.counters.calls("users/get_current_account", 503)
            assert notify(second.client, bob) == "accepted"
        finally:
            second.close()


def selectable(service: ServiceProcess, name: str) -> bool:
    reply = service.client.post("/select", json={"name": name, "dry_run": True})
    return reply.status_code == 200


def test_archiving_during_a_relisting_moves_nothing_of_another_account(
    tmp_path: Path, ledger: Ledger
) -> None:
    """Until the new listing ends, the catalog still holds the old account's paths: an archive
    move made from them would move whatever the new account keeps at those paths."""
    entry = ledger.entry("Archiving while another account's catalog is listed afresh")
    alice, bob = Emulator(), Emulator(account_id=account_id_for("bob"))
    posted = alice.put_file("/Photos/x.jpg", b"alice's picture").content_hash
    bob.put_file("/Photos/x.jpg", b"bob's picture, never posted")
    env = {"ARCHIVE_FOLDER": "/Archive"}
    with EmulatorServer(alice, bob) as server:
        first = ServiceProcess(alice, server.base_url, tmp_path / "state", **env).start()
        first.stop()
        first.close()
        bob.faults.delay("files/list_folder", 2 * LISTING_DELAY, times=1)
        second = ServiceProcess(bob, server.base_url, tmp_path / "state", **env)
        try:
            second.start(wait_ready=False)
            assert second.client.get("/readyz").status_code == 503
            reply = second.client.post("/posted", json={"content_hash": posted, "archive": True})
            entry.trials += 1
            entry.wrong += "/photos/x.jpg" not in bob.files("/Photos")
            assert reply.status_code == 200 and reply.json()["archived_to"] is None, reply.text
            assert reply.json()["archive_error"], reply.text  # post again once ready
            assert bob.read("/Photos/x.jpg") == b"bob's picture, never posted"
            assert posted in second.client.get("/posted/export").json()["dropbox_content_hashes"]
            wait_until(lambda: second.client.get("/readyz").status_code == 200, 30)
            wait_until(lambda: selectable(second, "x.jpg"), 30)  # once fingerprinted
        finally:
            second.close()
    assert entry.wrong == 0
