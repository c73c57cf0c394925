"""One supervisor per controller: a claim on the controller, renewed by heartbeats (a lease).

Two LLM nodes tuning the same controller fight: each sends its own updates, the last writer wins,
and a stale proposal of one is applied seconds after the other's. ROS 2 has no locks, and node
names are not unique (two nodes may both be /robotxr1; `ros2 lifecycle set /robotxr1 ...` then
reaches either one). So an active LLM node announces a claim on the controller several times per
lease, on a topic of the controller's (the node: `<controller>/supervisor`): a random id of its
own, its node name, pid and host, and since when it claims. The rules:

- A node does not activate while it knows of another node's live claim, and names the holder.
- An activated node first claims for `claim_wait_s` (long enough to hear a holder's heartbeats)
  and only then holds the controller and sends updates. Of two claims that meet, the older one
  stays and the newer yields (ties: the smaller id), so two nodes started together end with one
  holder, and a holder is never displaced by a newcomer.
- A claim that has not been renewed within `lease_s` has lapsed (its node was killed, hangs, or
  lost its connection): another node may then take over. A holder that could not renew its own
  claim within the lease (a stalled process: others may have taken over meanwhile) stops writing
  and claims afresh, as a newcomer.
- Deactivation releases the claim at once (a released heartbeat).

Plain Python: the caller passes `now` (a monotonic clock; lapses are judged by the time a
heartbeat arrived, so the nodes' clocks need not agree) and `wall` (the wall-clock time a claim is
made: ages are compared across processes) and carries the claims over the wire (as_json /
from_json). Not thread-safe.
"""
from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from ..errors import Robotxr1Error

HEARTBEATS_PER_LEASE = 8


class LeaseState(StrEnum):
    IDLE = "idle"  # not supervising
    CLAIMING = "claiming"  # the claim wait lasts
    HOLDING = "holding"  # supervising the controller


class LeaseEvent(StrEnum):
    """What `tick` reports."""

    HOLDS = "holds"  # the claim wait passed without a rival: the node now holds the controller
    YIELDS = "yields"  # an older claim is live: the node must stop supervising and release its claim
    LAPSED = "lapsed"  # the node's own renewals stalled beyond the lease: it claims afresh


@dataclass(frozen=True)
class Claim:
    """One heartbeat: who claims the controller, and in which state."""

    id: str  # random, per claimant: node names are not unique
    node: str  # fully qualified node name
    pid: int
    host: str
    since: float  # wall-clock time the claim was made: the older claim wins
    holding: bool  # False while the claim wait lasts
    released: bool = False

    def beats(self, other: Claim) -> bool:
        return (self.since, self.id) < (other.since, other.id)

    def describe(self) -> str:
        return f"{self.node} (pid {self.pid} on {self.host})"

    def as_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Claim:
        """A claim from its JSON; ValueError if the text is not one."""
        try:
            record: dict[str, Any] = json.loads(text)
            return cls(id=str(record["id"]), node=str(record["node"]), pid=int(record["pid"]),
                       host=str(record["host"]), since=float(record["since"]), holding=bool(record["holding"]),
                       released=bool(record.get("released", False)))
        except (TypeError, KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"not a supervision claim: {error}") from None


class SupervisionLease:
    def __init__(self, node: str, lease_s: float, claim_wait_s: float | None = None,
                 pid: int | None = None, host: str | None = None) -> None:
        """`node`: the claimant's node name; `claim_wait_s` (default: half the lease) must cover
        the discovery of a running holder and a few of its heartbeats."""
        claim_wait_s = lease_s / 2.0 if claim_wait_s is None else claim_wait_s
        if not (lease_s > 0.0 and 0.0 < claim_wait_s <= lease_s):
            raise Robotxr1Error(f"need lease_s > 0 and 0 < claim_wait_s <= lease_s, got {lease_s} and {claim_wait_s}")
        self.lease_s = lease_s
        self.claim_wait_s = claim_wait_s
        self.heartbeat_s = lease_s / HEARTBEATS_PER_LEASE
        self._me = Claim(uuid.uuid4().hex, node, os.getpid() if pid is None else pid,
                         socket.gethostname() if host is None else host, since=0.0, holding=False)
        self.state = LeaseState.IDLE
        self._claimed_at = 0.0  # monotonic time of the claim's start
        self._renewed_at = 0.0  # monotonic time of the last heartbeat sent
        self._others: dict[str, tuple[Claim, float]] = {}  # id -> (last heartbeat, monotonic arrival)

    @property
    def claim(self) -> Claim:
        return self._me

    def observe(self, claim: Claim, now: float) -> None:
        """A heartbeat arrived (one's own are ignored)."""
        if claim.id == self._me.id:
            return
        if claim.released:
            self._others.pop(claim.id, None)
        else:
            self._others[claim.id] = (claim, now)

    def live_claims(self, now: float) -> list[Claim]:
        """Other nodes' claims renewed within the lease, oldest first."""
        live = [claim for claim, heard in self._others.values() if now - heard <= self.lease_s]
        return sorted(live, key=lambda claim: (claim.since, claim.id))

    def silence_s(self, claim: Claim, now: float) -> float:
        """How long ago the last heartbeat of `claim` arrived."""
        return now - self._others[claim.id][1] if claim.id in self._others else float("inf")

    def blocker(self, now: float) -> Claim | None:
        """The claim that stands in this node's way: while idle, any live one (a new claim would be
        the newest); while claiming or holding, a live one older than this node's."""
        for claim in self.live_claims(now):
            if self.state == LeaseState.IDLE or claim.beats(self._me):
                return claim
        return None

    def start(self, now: float, wall: float) -> None:
        """Begin claiming (activation); the caller has checked `blocker` first."""
        self._me = replace(self._me, since=wall, holding=False)
        self.state = LeaseState.CLAIMING
        self._claimed_at = self._renewed_at = now

    def release(self) -> Claim | None:
        """Stop supervising; the heartbeat that tells the others at once (None: nothing was claimed)."""
        if self.state == LeaseState.IDLE:
            return None
        self.state = LeaseState.IDLE
        return replace(self._me, holding=False, released=True)

    def tick(self, now: float, wall: float) -> LeaseEvent | None:
        """Advance the claim: HOLDS, YIELDS (an older claim is live: the caller stops supervising
        and calls `release`; until then nothing may be written), LAPSED (claiming afresh), or None
        (no change)."""
        if self.state == LeaseState.IDLE:
            return None
        if self.blocker(now) is not None:
            return LeaseEvent.YIELDS
        if self.state == LeaseState.HOLDING and now - self._renewed_at > self.lease_s:
            self.start(now, wall)
            return LeaseEvent.LAPSED
        if self.state == LeaseState.CLAIMING and now - self._claimed_at >= self.claim_wait_s:
            self.state = LeaseState.HOLDING
            self._me = replace(self._me, holding=True)
            return LeaseEvent.HOLDS
        return None

    def heartbeat(self, now: float) -> Claim | None:
        """The heartbeat to send now (None while idle); sending it renews the claim."""
        if self.state == LeaseState.IDLE:
            return None
        self._renewed_at = now
        return self._me

    def may_write(self, now: float) -> bool:
        """Whether the node may send the controller an update now: it holds the controller, renewed
        its claim within the lease, and knows of no older live claim."""
        return (self.state == LeaseState.HOLDING and now - self._renewed_at <= self.lease_s
                and self.blocker(now) is None)
