"""The smooth weighted round-robin over folders: exact shares in every window of a full
turn, folders dropping out and coming back, previews that leave the round as it is."""

from __future__ import annotations

from collections import Counter

from state.rotation import FolderRound, Rounds


def run(round_: FolderRound, active: list[str], picks: int) -> list[str]:
    chosen = [round_.choose(active) for _ in range(picks)]
    assert None not in chosen
    return [str(f) for f in chosen]


def test_three_to_one_in_every_four_consecutive_picks() -> None:
    picks = run(FolderRound((("a", 3), ("b", 1))), ["a", "b"], 400)
    for start in range(len(picks) - 3):
        assert Counter(picks[start : start + 4]) == {"a": 3, "b": 1}


def test_every_folder_within_one_pick_of_its_share_over_any_run() -> None:
    weights = (("food", 1), ("travel", 5), ("work", 2))
    active = ["food", "travel", "work", "."]  # "." is unlisted: it weighs 1
    total = 9
    picks = run(FolderRound(weights), active, 900)
    share = {"food": 1, "travel": 5, "work": 2, ".": 1}
    for start in range(0, 900, 7):
        for length in (1, 5, 9, 23, 100):
            window = Counter(picks[start : start + length])
            n = len(picks[start : start + length])
            for folder, w in share.items():
                assert abs(window[folder] - n * w / total) <= 2  # within a pick at each end
    assert Counter(picks) == {f: 100 * w for f, w in share.items()}


def test_a_folder_that_runs_out_drops_out_and_comes_back() -> None:
    round_ = FolderRound((("a", 2),))
    assert run(round_, ["a", "b"], 3) == ["a", "b", "a"]
    assert run(round_, ["b"], 2) == ["b", "b"]  # a has nothing available
    assert Counter(run(round_, ["a", "b"], 3)) == {"a": 2, "b": 1}
    assert round_.choose([]) is None


def test_a_peek_is_the_next_choice_and_changes_nothing() -> None:
    round_ = FolderRound((("a", 3), ("b", 1)))
    for _ in range(12):
        peeked = round_.peek(["a", "b"])
        assert round_.peek(["a", "b"]) == peeked
        assert round_.choose(["a", "b"]) == peeked


def test_new_weights_start_a_new_round() -> None:
    rounds = Rounds()
    first = rounds.of(1, (("a", 2),))
    assert rounds.of(1, (("a", 2),)) is first
    assert rounds.of(1, (("a", 3),)) is not first and rounds.of(2, (("a", 3),)) is not first
