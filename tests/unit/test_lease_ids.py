"""Lease ids are typed back at the command line: none may look like an option."""

from state.rules import new_lease_id


def test_a_lease_id_is_never_taken_for_an_option() -> None:
    ids = [new_lease_id() for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and not i.startswith("-") and i.isalnum() for i in ids)
