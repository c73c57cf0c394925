"""One supervisor per controller: the claim, its heartbeats and its lease (ROS-free; time is an
argument). The two-node test over DDS is in test_llm_node_guards.py."""
from __future__ import annotations

import pytest

from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.llm.supervision_claim import Claim, LeaseEvent, LeaseState, SupervisionLease

LEASE_S = 2.0


def lease(node: str = "/robotxr1") -> SupervisionLease:
    return SupervisionLease(node, LEASE_S, pid=1, host="car")


def hold(node: SupervisionLease, now: float, wall: float) -> None:
    node.start(now, wall)
    node.heartbeat(now)
    assert node.tick(now + node.claim_wait_s, wall) == LeaseEvent.HOLDS and node.state == LeaseState.HOLDING


def test_a_node_claims_for_the_claim_wait_then_holds_and_may_write():
    node = lease()
    assert node.state == LeaseState.IDLE and node.heartbeat(0.0) is None and not node.may_write(0.0)
    node.start(0.0, wall=100.0)
    assert node.state == LeaseState.CLAIMING and not node.may_write(0.0)
    assert not node.heartbeat(0.0).holding
    assert node.tick(node.claim_wait_s / 2, 100.0) is None
    assert node.tick(node.claim_wait_s, 100.0) == LeaseEvent.HOLDS
    beat = node.heartbeat(node.claim_wait_s)
    assert beat.holding and beat.since == 100.0 and node.may_write(node.claim_wait_s)
    assert Claim.from_json(beat.as_json()) == beat
    released = node.release()
    assert released.released and node.state == LeaseState.IDLE and not node.may_write(1.0)
    assert node.release() is None


def test_a_newcomer_does_not_activate_while_a_holder_is_heard_and_may_after_its_lease():
    holder, newcomer = lease(), lease()  # the same node name: ids tell them apart
    hold(holder, 0.0, wall=100.0)
    newcomer.observe(holder.heartbeat(1.0), 1.0)
    newcomer.observe(newcomer.claim, 1.0)  # its own heartbeats do not count
    assert newcomer.blocker(1.0 + LEASE_S) == holder.claim
    assert newcomer.silence_s(holder.claim, 1.5) == 0.5
    # The holder is killed: no more heartbeats; its claim lapses LEASE_S after the last one.
    assert newcomer.blocker(1.0 + LEASE_S + 0.01) is None
    hold(newcomer, 3.5, wall=103.5)


def test_a_node_that_learns_of_an_older_claim_while_claiming_yields():
    """Autostart activates before anything is heard: the claim wait is when a holder is heard."""
    holder, newcomer = lease(), lease()
    hold(holder, 0.0, wall=100.0)
    newcomer.start(5.0, wall=105.0)
    newcomer.observe(holder.heartbeat(5.2), 5.2)
    holder.observe(newcomer.heartbeat(5.2), 5.2)
    assert newcomer.tick(5.3, 105.3) == LeaseEvent.YIELDS and not newcomer.may_write(5.3)
    assert holder.tick(5.3, 105.3) is None and holder.may_write(5.3)  # a newcomer never displaces a holder
    holder.observe(newcomer.release(), 5.4)
    assert holder.live_claims(5.4) == []


def test_of_two_nodes_started_together_the_older_claim_holds():
    first, second = lease("/a/robotxr1"), lease("/b/robotxr1")
    first.start(0.0, wall=100.0)
    second.start(0.0, wall=100.2)
    for t in (0.25, 0.5, 0.75):
        first.observe(second.heartbeat(t), t)
        second.observe(first.heartbeat(t), t)
    assert second.tick(1.0, 101.0) == LeaseEvent.YIELDS
    assert first.tick(1.0, 101.0) == LeaseEvent.HOLDS


def test_equal_claim_times_are_decided_by_id():
    first, second = lease(), lease()
    first.start(0.0, wall=100.0)
    second.start(0.0, wall=100.0)
    first.observe(second.heartbeat(0.1), 0.1)
    second.observe(first.heartbeat(0.1), 0.1)
    assert sorted(node.tick(1.0, 101.0) for node in (first, second)) == sorted([LeaseEvent.HOLDS, LeaseEvent.YIELDS])


def test_a_holder_whose_heartbeats_stalled_stops_writing_and_claims_afresh():
    """A process stalled beyond the lease (others may have taken over) must not send a stale update."""
    node = lease()
    hold(node, 0.0, wall=100.0)
    node.heartbeat(1.0)
    assert node.may_write(1.0 + LEASE_S) and not node.may_write(1.0 + LEASE_S + 0.1)
    assert node.tick(1.0 + LEASE_S + 0.1, wall=103.2) == LeaseEvent.LAPSED and node.state == LeaseState.CLAIMING
    assert node.heartbeat(3.2).since == 103.2  # a fresh claim: it no longer outranks a node that took over


def test_malformed_claims_and_bad_leases_are_refused():
    with pytest.raises(ValueError, match="not a supervision claim"):
        Claim.from_json('{"id": "x"}')
    with pytest.raises(ValueError, match="not a supervision claim"):
        Claim.from_json("not json")
    with pytest.raises(Robotxr1Error):
        SupervisionLease("/robotxr1", 0.0)
    with pytest.raises(Robotxr1Error):
        SupervisionLease("/robotxr1", 1.0, claim_wait_s=2.0)
