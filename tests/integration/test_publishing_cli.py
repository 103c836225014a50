"""``posted``, ``unpost``, ``release``, ``renew``, ``hold``, ``unhold``, ``images``, ``history`` and
``resync`` as real processes on a state directory that ``sync`` filled from the emulator."""

from __future__ import annotations

from emulator import Emulator
from state.hashing import content_hash
from tests.integration.test_selection_cli import Run, cli, output  # noqa: F401  (fixture)


def test_a_channel_worked_from_the_command_line_and_bad_arguments_refused(
    emulator: Emulator,
    cli: Run,  # noqa: F811
) -> None:
    for name in ("a", "b", "c"):
        emulator.put_file(f"/Photos/{name}.jpg", name.encode())
    cli("sync")
    first = cli("images", "--limit", "2")
    table = first.stdout.splitlines()
    assert table[0].split() == ["STATE", "COPIES", "CONTENT", "HASH", "NAME", "PATH"]
    assert [line.split()[3] for line in table[1:]] == ["a.jpg", "b.jpg"]
    assert first.stderr.startswith("more: add --after ")

    assert output(cli("hold", content_hash(b"a")))["held"] is True
    lease = output(cli("select", "--name", "b.jpg"))["lease"]["id"]
    assert output(cli("renew", lease, "--lease-seconds", "600"))["state"] == "active"
    assert output(cli("release", lease))["state"] == "released"
    assert output(cli("posted", content_hash(b"c")))["lease"] is None
    history = cli("history").stdout.splitlines()
    assert "c.jpg" in history[1] and history[1].split()[1] == "1"
    undone = output(cli("unpost", "c.jpg"))
    assert (undone["content_hash"], undone["undone_by"]) == (
        content_hash(b"c"),
        "local command line",
    )
    assert "was not posted" in cli("unpost", content_hash(b"c"), ok=False).stderr
    assert output(cli("select", "--name", "c.jpg"))["lease"] is not None  # offered again
    [entry] = output(cli("history", "--json"))["items"]
    assert (entry["undone_at"], entry["undone_by"]) == (undone["undone_at"], "local command line")
    emulator.delete("/Photos/b.jpg")
    assert "listed again" in cli("resync").stdout
    held = output(cli("images", "--state", "held", "--json"))["items"]
    assert [item["name"] for item in held] == ["a.jpg"]
    assert output(cli("unhold", content_hash(b"a")))["held"] is False
    refused = cli("hold", "0" * 64, ok=False)
    assert "no image with content hash" in refused.stderr
    assert "no image matches 'a-name'" in cli("hold", "a-name", ok=False).stderr
    assert output(cli("hold", content_hash(b"a")[:8]))["content_hash"] == content_hash(b"a")
    assert output(cli("unhold", "A.JPG"))["content_hash"] == content_hash(b"a")
    assert "too short" in cli("hold", content_hash(b"a")[:6], ok=False).stderr
