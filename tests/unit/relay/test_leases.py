"""Fair shares and slot layouts of the partition leases, and the status table."""

from __future__ import annotations

import pytest

from relay.leases import fair_share, slots_of, transactional_id
from relay.settings import SLOTS
from relay.status import render

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("members", [1, 2, 3, 4, 7])
def test_fair_shares_cover_every_partition_once_and_differ_by_at_most_one(members: int) -> None:
    names = [f"m{i}" for i in range(members)]
    shares = [fair_share(names, name, 32) for name in names]
    assert sum(shares) == 32
    assert max(shares) - min(shares) <= 1


def test_a_member_that_is_not_alive_gets_no_share() -> None:
    assert fair_share(["a", "b"], "c", 32) == 0


def test_the_slots_of_all_partitions_are_every_slot_and_of_disjoint_ones_disjoint() -> None:
    assert slots_of(range(32), 32) == tuple(range(SLOTS))
    assert not set(slots_of([0, 1], 32)) & set(slots_of([2, 3], 32))
    assert slots_of([], 32) == ()


def test_each_member_has_a_transactional_id_of_its_own() -> None:
    assert transactional_id("a") != transactional_id("b")


def test_the_status_shows_owners_with_their_ranges_and_unowned_partitions() -> None:
    partition = {"epoch": 1, "backlog": 0, "oldest": 0.0}
    status = {
        "members": [{"member": "relay-a", "alive": True}, {"member": "relay-b", "alive": False}],
        "partitions": [
            {"partition": 0, "owner": "relay-a", "live": True, **partition},
            {"partition": 1, "owner": "relay-a", "live": True, **partition, "backlog": 5},
            {"partition": 2, "owner": "relay-b", "live": False, **partition},
        ],
    }
    lines = render(status).splitlines()
    assert lines[1].split() == ["relay-a", "yes", "2", "5", "0-1"]
    assert lines[2].split() == ["relay-b", "-", "0", "0"]
    assert lines[3].split() == ["(nobody)", "-", "1", "0", "2"]
    assert "(expired: relay-b)" in lines[-1]
