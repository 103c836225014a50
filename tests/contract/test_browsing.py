"""The store contract for people: pages of a channel's images by state, history, one image,
and holds that keep an image out of selection without touching a file."""

from __future__ import annotations

import pytest

from state.errors import Held, ImageNotFound, InvalidInput, NoNewImages, UnknownName
from state.hashing import BLOCK_SIZE
from state.store import ImagePage, ImageQuery, Store
from tests.contract.conftest import Harness, digest, gone, image


def names(page: ImagePage) -> list[str]:
    return [item.image.name for item in page.items]


def every_page(store: Store, channel: str, query: ImageQuery) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = store.browsing.images(
            channel, ImageQuery(query.state, query.name_prefix, after, query.limit)
        )
        pages.append(names(page))
        if page.next is None:
            return pages
        after = page.next


def test_available_images_by_name_a_page_at_a_time(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{name}.jpg", name) for name in "ecadb"))
    pages = every_page(harness.store, "ch", ImageQuery("available", limit=2))
    assert pages == [["a.jpg", "b.jpg"], ["c.jpg", "d.jpg"], ["e.jpg"]]
    whole = harness.store.browsing.images("ch", ImageQuery(limit=5))
    assert whole.next is None and names(whole) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]


def test_duplicates_show_once_with_their_count(harness: Harness) -> None:
    harness.listing(
        image("/p/a.jpg", "x"), image("/p/b.jpg", "x"), image("/p/sub/c.jpg", "x"),
        image("/p/d.jpg", "y"), image("/p/d.txt", "caption"),
    )  # fmt: skip
    items = harness.store.browsing.images("ch", ImageQuery()).items
    assert [(i.image.name, i.duplicate_count) for i in items] == [("a.jpg", 2), ("d.jpg", 0)]
    first, second = items
    assert first.image.duplicates == ("/p/b.jpg", "/p/sub/c.jpg") and first.state == "available"
    assert [car.path for car in second.image.sidecars] == ["/p/d.txt"]
    assert first.image.lease is None and first.image.posted_at is None and first.held_at is None


def test_each_image_is_in_exactly_one_state(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{name}.jpg", name) for name in "abcdef"))
    store = harness.store
    leased = harness.select(name="a.jpg")
    store.browsing.hold("ch", digest("b"))
    store.selections.mark_posted("ch", digest("c"), None, None)
    store.browsing.hold("ch", digest("c"))  # posted wins over held
    store.browsing.hold("ch", digest("d"))
    states = {state: names(store.browsing.images("ch", ImageQuery(state))) for state in
              ("available", "leased", "held", "posted")}  # fmt: skip
    assert states == {
        "available": ["e.jpg", "f.jpg"], "leased": ["a.jpg"], "held": ["b.jpg", "d.jpg"],
        "posted": ["c.jpg"],
    }  # fmt: skip
    assert leased.lease is not None
    (item,) = store.browsing.images("ch", ImageQuery("leased")).items
    assert item.state == "leased" and item.image.lease == leased.lease
    (item,) = store.browsing.images("ch", ImageQuery("posted")).items
    assert item.state == "posted" and item.held_at is not None and item.image.posted_at
    assert names(store.browsing.images("other", ImageQuery())) == [f"{n}.jpg" for n in "abcdef"]


def test_a_lease_on_a_held_image_shows_it_leased(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    lease = harness.lease_id()
    harness.store.browsing.hold("ch", digest("a"))
    assert names(harness.store.browsing.images("ch", ImageQuery("leased"))) == ["a.jpg"]
    assert names(harness.store.browsing.images("ch", ImageQuery("held"))) == []
    harness.store.selections.release("ch", lease)
    assert names(harness.store.browsing.images("ch", ImageQuery("held"))) == ["a.jpg"]
    with pytest.raises(NoNewImages):
        harness.pick()  # the lease's end did not return a held image to the pool


def test_leased_soonest_expiry_first_held_and_posted_newest_first(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{name}.jpg", name) for name in "abcdefgh"))
    store = harness.store
    harness.select(name="a.jpg", seconds=300)
    harness.select(name="b.jpg", seconds=100)
    for name in "cde":
        store.browsing.hold("ch", digest(name))
        harness.clock.now += 5
    for name in "fgh":
        store.selections.mark_posted("ch", digest(name), None, None)
        harness.clock.now += 5
    assert names(store.browsing.images("ch", ImageQuery("leased"))) == ["b.jpg", "a.jpg"]
    assert every_page(store, "ch", ImageQuery("held", limit=2)) == [["e.jpg", "d.jpg"], ["c.jpg"]]
    assert every_page(store, "ch", ImageQuery("posted", limit=2)) == [["h.jpg", "g.jpg"], ["f.jpg"]]


def test_a_name_prefix_matches_case_insensitively_in_any_state(harness: Harness) -> None:
    harness.listing(
        image("/p/Harbor-2.jpg", "h2"), image("/p/harbor-1.jpg", "h1"),
        image("/p/zz-harbor-copy.jpg", "h1"), image("/p/meadow.jpg", "m"),
    )  # fmt: skip
    store = harness.store
    pages = every_page(store, "ch", ImageQuery("available", "HARB", limit=1))
    assert pages == [["harbor-1.jpg"], ["Harbor-2.jpg"]]
    store.selections.mark_posted("ch", digest("h2"), None, None)
    assert names(store.browsing.images("ch", ImageQuery("posted", "harbor"))) == ["Harbor-2.jpg"]
    assert names(store.browsing.images("ch", ImageQuery("available", "harbor"))) == ["harbor-1.jpg"]
    assert (
        names(store.browsing.images("ch", ImageQuery("available", "zz"))) == []
    )  # a duplicate's name
    assert names(store.browsing.images("ch", ImageQuery("held", "harbor"))) == []


@pytest.mark.parametrize("cursor", ["", "nonsense", "W10", "WyJ4Il0", "x" * 5000])
def test_a_cursor_from_elsewhere_is_refused(harness: Harness, cursor: str) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.selections.mark_posted("ch", digest("b"), None, None)
    history_cursor = harness.store.browsing.history("ch", None, 1).next
    assert history_cursor is not None
    for after in (cursor or "!", history_cursor):
        with pytest.raises(InvalidInput):
            harness.store.browsing.images("ch", ImageQuery(after=after))
    harness.store.posted.reset_posted("ch")
    held_next = harness.store.browsing.images("ch", ImageQuery("available", limit=1)).next
    with pytest.raises(InvalidInput):
        harness.store.browsing.images("ch", ImageQuery("posted", after=held_next))


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_a_limit_out_of_range_is_refused(harness: Harness, limit: int) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    with pytest.raises(InvalidInput):
        harness.store.browsing.images("ch", ImageQuery(limit=limit))
    with pytest.raises(InvalidInput):
        harness.store.browsing.history("ch", None, limit)


def test_history_is_every_post_newest_first_in_every_cycle(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    store = harness.store
    store.selections.mark_posted("ch", digest("a"), None, None)
    harness.clock.now += 10
    store.selections.mark_posted("ch", digest("b"), None, None)
    harness.clock.now += 10
    store.selections.mark_posted("ch", digest("gone elsewhere"), None, None)
    store.posted.reset_posted("other")
    first = store.browsing.history("ch", None, 2)
    rest = store.browsing.history("ch", first.next, 2)
    entries = [*first.items, *rest.items]
    assert rest.next is None
    assert [e.content_hash for e in entries] == [digest("gone elsewhere"), digest("b"), digest("a")]
    assert entries[0].image is None and entries[1].image is not None
    assert entries[1].image.state == "posted" and entries[1].cycle == 1
    assert store.browsing.history("other", None, 10).items == ()


def test_history_keeps_each_cycle(harness: Harness) -> None:
    from state.store import ChannelDef
    from tests.contract.conftest import CHANNELS, LIBRARIES

    harness.define(LIBRARIES, [*CHANNELS, ChannelDef("loop", "lib", when_exhausted="new_cycle")])
    harness.listing(image("/p/a.jpg", "a"))
    for _ in range(2):
        chosen = harness.select("loop")
        harness.store.selections.mark_posted("loop", chosen.content_hash, None, None)
        harness.clock.now += 1
    cycles = [e.cycle for e in harness.store.browsing.history("loop", None, 10).items]
    assert cycles == [2, 1]


def test_one_image_with_its_sidecars_posts_and_lease(harness: Harness) -> None:
    harness.listing(
        image("/p/a.jpg", "a"), image("/p/copy.jpg", "a"), image("/p/a.txt", "cap", size=42)
    )
    store = harness.store
    store.selections.mark_posted("other", digest("a"), None, None)
    lease = harness.lease_id()
    detail = store.browsing.image("ch", digest("a"))
    assert detail.item.image.path == "/p/a.jpg" and detail.item.duplicate_count == 1
    assert detail.item.image.duplicates == ("/p/copy.jpg",)
    (sidecar,) = detail.sidecars
    assert (sidecar.path, sidecar.name, sidecar.size) == ("/p/a.txt", "a.txt", 42)
    assert sidecar.content_hash == digest("cap")
    assert [(p.channel, p.cycle) for p in detail.posts] == [("other", 1)]
    assert detail.lease is not None and detail.lease.id == lease
    assert detail.lease.state == "active" and detail.lease.channel == "ch"
    assert store.browsing.image("other", digest("a")).item.state == "posted"
    with pytest.raises(ImageNotFound):
        store.browsing.image("ch", digest("nothing"))
    with pytest.raises(ImageNotFound):
        store.browsing.image("ch2", digest("a"))  # another library's channel


def test_a_hold_keeps_an_image_out_of_selection_until_released(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    store = harness.store
    first = store.browsing.hold("ch", digest("a"))
    harness.clock.now += 60
    assert store.browsing.hold("ch", digest("a")) == first  # holding again changes nothing
    assert {harness.pick(dry_run=True) for _ in range(30)} == {digest("b")}
    with pytest.raises(Held):
        harness.select(name="a.jpg")
    assert harness.pick("other", name="a.jpg") == digest("a")  # other channels are unaffected
    assert store.reports.channel_status("ch").available == 1
    assert store.browsing.unhold("ch", digest("a")) is True
    assert store.browsing.unhold("ch", digest("a")) is False
    assert store.reports.channel_status("ch").available == 2
    assert store.browsing.image("ch", digest("a")).item.held_at is None


def test_a_hold_belongs_to_content_and_survives_a_move(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    harness.store.browsing.hold("ch", digest("a"))
    harness.change(gone("/p/a.jpg"))
    assert harness.store.browsing.unhold("ch", digest("b")) is False
    harness.change(image("/p/moved/a.jpg", "a"))
    assert names(harness.store.browsing.images("ch", ImageQuery("held"))) == ["a.jpg"]
    assert harness.pick() == digest("b")
    with pytest.raises(NoNewImages):
        harness.pick()


def test_only_the_librarys_images_can_be_held(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    with pytest.raises(ImageNotFound):
        harness.store.browsing.hold("ch", digest("nowhere"))
    harness.store.browsing.hold("ch", digest("a"))
    harness.change(gone("/p/a.jpg"))
    assert harness.store.browsing.unhold("ch", digest("a")) is True  # let go of, though gone


def test_a_held_image_stays_out_of_a_new_cycle(harness: Harness) -> None:
    from state.store import ChannelDef
    from tests.contract.conftest import CHANNELS, LIBRARIES

    harness.define(LIBRARIES, [*CHANNELS, ChannelDef("loop", "lib", when_exhausted="new_cycle")])
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    harness.store.browsing.hold("loop", digest("a"))
    for _ in range(3):
        chosen = harness.select("loop")
        assert chosen.content_hash == digest("b")
        harness.store.selections.mark_posted("loop", chosen.content_hash, None, None)


def test_a_pending_image_shows_as_pending(harness: Harness) -> None:
    harness.listing()
    harness.store.posted.import_posted("ch", [], [digest("unmatched")])
    harness.change(image("/p/big.jpg", "big", size=BLOCK_SIZE + 1))
    detail = harness.store.browsing.image("ch", digest("big"))
    assert detail.item.state == "pending"
    for state in ("available", "leased", "held", "posted"):
        assert harness.store.browsing.images("ch", ImageQuery(state)).items == ()  # type: ignore[arg-type]


def test_a_reference_names_images_by_hash_prefix_name_or_path(harness: Harness) -> None:
    harness.listing(
        image("/p/a.jpg", "x"), image("/p/sub/A.jpg", "x"), image("/p/b.jpg", "y"),
        image("/p/sub/b.jpg", "z"), image("/p/b.txt", "caption"),
    )  # fmt: skip
    store = harness.store
    x, y, z = digest("x"), digest("y"), digest("z")

    def found(reference: str) -> list[tuple[str, str]]:
        return [(m.content_hash, m.path) for m in store.browsing.find_images("ch", reference)]

    assert found(x[:8]) == found(x.upper()) == [(x, "/p/a.jpg")]
    assert found("A.JPG") == [(x, "/p/a.jpg")]  # two copies of one content: one match
    assert found("b.jpg") == sorted([(y, "/p/b.jpg"), (z, "/p/sub/b.jpg")])  # ambiguous
    assert (
        found("sub/b.jpg")
        == found("/p/sub/b.jpg")
        == found("/P/SUB/B.JPG")
        == [(z, "/p/sub/b.jpg")]
    )
    assert found(x[:7]) == [] and found("b.txt") == [] and found("c.jpg") == []
    assert found("nul\x00.jpg") == [] and found("/q/a.jpg") == []
    assert store.browsing.find_images("ch2", x[:8]) == ()
    with pytest.raises(UnknownName):
        store.browsing.find_images("nope", x[:8])
