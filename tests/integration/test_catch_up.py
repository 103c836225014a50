"""The catch-up against the emulator: afterwards the catalog equals Dropbox's tree.

Every test ends by comparing the catalog with the emulator's own view of the folder
(images and sidecars, by path and content_hash), and checks that identity came from
metadata: no file is ever downloaded.
"""

from __future__ import annotations

import pytest

from app.dropbox.client import DropboxClient
from app.errors import FolderNotFound
from app.sync.catch_up import CatchUp
from emulator import Emulator
from state.changes import FileKinds
from tests.conftest import MakeSettings
from tests.integration.conftest import FAST_RETRY, Service, StartService
from tests.stores import DEFAULTS, default_store

KINDS = FileKinds.of([".jpg", ".jpeg", ".png"], [".txt"])


def truth(emulator: Emulator, folder: str = "/Photos", recursive: bool = False) -> dict[str, str]:
    files = emulator.files(folder, recursive=recursive)
    return {path: meta.content_hash for path, meta in files.items() if KINDS.kind_of(meta.name)}


def assert_level(service: Service, emulator: Emulator, recursive: bool = False) -> None:
    assert service.runtime.store.reports.catalog_files("default") == truth(
        emulator, recursive=recursive
    )
    assert emulator.counters.calls("files/download") == 0


def test_first_catch_up_of_ten_thousand_files(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", count=10_000, ext=".jpg", size=64, duplicate_every=10)
    service = start_service()
    assert_level(service, emulator)
    status = service.client.get("/status").json()
    assert status["images"] == 10_000 and status["unique_images"] == 9_000
    assert emulator.counters.calls("files/list_folder") == 1
    assert emulator.counters.calls("files/list_folder/continue") == 4  # 2,000 a page


def test_every_kind_of_change_in_one_page(emulator: Emulator, start_service: StartService) -> None:
    put = emulator.put_file
    for name in ("keep", "modify", "delete", "move", "rename", "case"):
        put(f"/Photos/{name}.jpg", name.encode())
    put("/Photos/keep.txt", b"caption")
    put("/Photos/sub/inner.jpg", b"inner")
    put("/Photos/gone/deep.jpg", b"deep")
    put("/Photos/becomes-folder.jpg", b"file")
    service = start_service(dropbox_recursive=True)
    assert_level(service, emulator, recursive=True)

    put("/Photos/modify.jpg", b"modified")
    emulator.delete("/Photos/delete.jpg")
    emulator.delete("/Photos/gone")
    emulator.move("/Photos/move.jpg", "/Photos/sub/moved.jpg")
    emulator.move("/Photos/rename.jpg", "/Photos/renamed.png")
    emulator.move("/Photos/case.jpg", "/Photos/CASE.jpg")
    emulator.delete("/Photos/becomes-folder.jpg")
    put("/Photos/becomes-folder.jpg/child.jpg", b"child")
    put("/Photos/notes.pdf", b"not an image")
    put("/Photos/new.txt", b"sidecar first")
    put("/Photos/new.jpg", b"keep")  # same content as keep.jpg: a duplicate
    continues = emulator.counters.calls("files/list_folder/continue")
    service.catch_up()

    assert emulator.counters.calls("files/list_folder/continue") == continues + 1
    assert_level(service, emulator, recursive=True)
    keep = service.client.post("/select", json={"name": "keep.jpg", "dry_run": True})
    if keep.status_code != 404:  # /select lands with the selection routes
        assert keep.json()["duplicates"] == ["/Photos/new.jpg"]


def test_non_recursive_ignores_subfolders(emulator: Emulator, start_service: StartService) -> None:
    emulator.put_file("/Photos/top.jpg", b"top")
    emulator.put_file("/Photos/sub/below.jpg", b"below")
    service = start_service()
    assert service.runtime.store.reports.catalog_files("default") == truth(emulator)
    assert len(truth(emulator)) == 1


def test_reset_relists_and_keeps_posted_state(
    emulator: Emulator, start_service: StartService
) -> None:
    for n in range(30):
        emulator.put_file(f"/Photos/{n}.jpg", str(n).encode())
    service = start_service()
    posted = truth(emulator)["/photos/0.jpg"]
    service.runtime.store.selections.mark_posted("default", posted, None, None)
    emulator.invalidate_cursors()
    emulator.delete("/Photos/1.jpg")
    emulator.put_file("/Photos/new.jpg", b"new")
    service.catch_up()
    assert_level(service, emulator)
    assert service.runtime.store.posted.export_posted("default").dropbox_content_hashes == (posted,)
    assert service.runtime.metrics.catch_up_resets.labels("default")._value.get() == 1


def test_reset_in_the_middle_of_a_paged_listing(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", count=5_000, size=32)
    emulator.faults.reset_next_continue()
    service = start_service()
    assert_level(service, emulator)
    assert service.runtime.metrics.catch_up_resets.labels("default")._value.get() == 1


def test_rate_limit_and_server_error_storms_converge(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.bulk_generate("/Photos", count=4_500, size=32)
    emulator.faults.rate_limit("files/list_folder/continue", retry_after=1, times=2)
    emulator.faults.server_error("files/list_folder/continue", status=503, times=2)
    emulator.faults.server_error("files/list_folder", status=500, times=1)
    service = start_service()
    assert_level(service, emulator)
    assert emulator.counters.calls("files/list_folder/continue", 429) == 2


def test_failures_past_the_bound_degrade_then_recover(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    # Four failures: exactly the attempts one run makes before it gives up.
    emulator.faults.server_error("files/list_folder/continue", status=503, times=4)
    emulator.put_file("/Photos/b.jpg", b"b")
    service.catch_up()
    ready = service.client.get("/readyz")
    assert ready.status_code == 503 and "failing" in ready.json()["message"]
    assert service.client.get("/status").json()["images"] == 1  # still serving what it knew
    service.catch_up()  # the faults are used up: Dropbox has recovered
    assert service.client.get("/readyz").status_code == 200
    assert_level(service, emulator)


def test_resync_reconciles_against_the_catalog(
    emulator: Emulator, start_service: StartService
) -> None:
    for n in range(10):
        emulator.put_file(f"/Photos/{n}.jpg", str(n).encode())
    service = start_service()
    lists = emulator.counters.calls("files/list_folder")
    reply = service.client.post("/admin/resync")
    assert reply.status_code == 202
    service.catch_up()
    assert emulator.counters.calls("files/list_folder") == lists + 1
    assert_level(service, emulator)


def test_a_vanished_folder_empties_the_catalog(
    make_settings: MakeSettings, emulator: Emulator, emulator_server: object
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    base_url = emulator_server.base_url  # type: ignore[attr-defined]
    settings = make_settings(dropbox_base_url=base_url, dropbox_access_token=emulator.access_token)
    store = default_store(settings.database_path)
    kinds = FileKinds.of(settings.image_extensions, settings.sidecar_extensions)
    library = DEFAULTS[0][0]
    catch_up = CatchUp(library, kinds, store.catalog, DropboxClient(settings, retry=FAST_RETRY))
    catch_up.run()
    store.selections.mark_posted("default", truth(emulator)["/photos/a.jpg"], None, None)
    emulator.delete("/Photos")
    with pytest.raises(FolderNotFound):
        catch_up.run()
    assert store.reports.catalog_files("default") == {}
    assert store.reports.channel_status("default").posted == 1
    emulator.put_file("/Photos/b.jpg", b"b")
    catch_up.run()
    assert store.reports.catalog_files("default") == truth(emulator)
    store.close()
