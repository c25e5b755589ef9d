"""Pacing calls to a rate-limited API: a token bucket that slows down when told to.

Several consumer processes share one Stripe account's request budget, so each
paces itself at its share (``TokenBucket``) and, on a 429, halves its rate and
then recovers additively (AIMD, as TCP does), so a group of processes converges
under the limit without coordinating. A ``Retry-After`` from the server blocks
every caller until it has passed. ``BudgetShare`` sizes each member's share from
the partitions it owns, recomputed on every rebalance, so nobody divides the
budget by hand.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection

from prometheus_client import CollectorRegistry

from consumer.engine.assignment import Assignment
from consumer.engine.demand import RAISE_AFTER_S, Demand, busy_share
from consumer.engine.metrics import engine_metrics

log = logging.getLogger(__name__)

_ROUNDING = 1e-9


class TokenBucket:
    """Thread-safe: ``acquire`` waits its turn, then for a token at the rate of that moment.

    Callers are served first come, first served, and only the caller at the
    front of the queue takes tokens. An earlier version reserved each caller's
    token on arrival (the balance went negative) and fixed its send time at the
    rate of that moment: callers who arrived while a 429 had halved the rate
    kept their late, slow-paced slots, while callers arriving after the rate
    recovered got earlier, fast-paced ones, so the two groups went out together
    (116 sends in one second at a 90/s pace). Taking the token at the front, at
    the current rate, keeps every stretch of time within ``rate`` plus the burst.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        before_turn: Callable[[], None] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 requests/s, got {rate}")
        self._rate = rate
        self._capacity = capacity if capacity is not None else max(1.0, rate)
        if self._capacity < 1:
            raise ValueError(f"capacity must allow at least one request, got {capacity}")
        self._clock = clock
        self._sleep = sleep
        # Called (without the bucket's lock) before each look at the balance, so an
        # owner adjusting the rate over time (the pacer's recovery) is current.
        self._before_turn = before_turn
        self._lock = threading.Lock()
        self._turn = threading.Condition(self._lock)
        self._next_ticket = 0
        self._serving = 0  # the ticket at the front of the queue
        self._left: set[int] = set()  # tickets whose callers gave up waiting (interrupted)
        self._tokens = self._capacity
        self._updated = clock()
        self._blocked_until = 0.0

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def capacity(self) -> float:
        return self._capacity

    def set_rate(self, rate: float, capacity: float | None = None) -> None:
        """A new rate (and burst, if given) from now on; tokens beyond the burst are dropped."""
        with self._lock:
            self._refill(self._clock())
            self._rate = rate
            if capacity is not None:
                self._capacity = max(1.0, capacity)
                self._tokens = min(self._tokens, self._capacity)

    def block_until(self, instant: float) -> None:
        """Hand out no token before ``instant`` (a clock reading)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, instant)

    def acquire(self) -> float:
        """Block until a request may go out; return the seconds waited."""
        started = self._clock()
        with self._lock:
            ticket = self._next_ticket
            self._next_ticket += 1
            try:
                while self._serving != ticket:
                    self._turn.wait()
            except BaseException:
                self._left.add(ticket)  # do not hold up the callers behind
                raise
        try:
            while True:
                if self._before_turn is not None:
                    self._before_turn()
                with self._lock:
                    now = self._clock()
                    self._refill(now)
                    # (Within a rounding error of a whole token counts as one: sleeping
                    # for the difference might not move the clock at all.)
                    short = 0.0 if self._tokens >= 1 - _ROUNDING else 1 - self._tokens
                    wait = max(self._blocked_until - now, short / self._rate)
                    if wait <= 0:
                        self._tokens -= 1
                        break
                # Sleep outside the lock: a rate change meanwhile is seen on waking.
                self._sleep(wait)
        finally:
            with self._lock:
                self._serving += 1
                while self._serving in self._left:
                    self._left.discard(self._serving)
                    self._serving += 1
                self._turn.notify_all()
        return self._clock() - started

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            self._updated = now


class Pacer:
    """A ``TokenBucket`` with AIMD: halve on 429, add ``recovery_per_s`` each second after.

    Use it around every call to the paced API::

        pacer.acquire()
        response = call()
        if response.status == 429:
            pacer.on_rate_limited(retry_after_seconds)
    """

    def __init__(
        self,
        name: str,
        max_rate: float,
        *,
        min_rate: float | None = None,
        recovery_per_s: float | None = None,
        capacity: float | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_rate <= 0:
            raise ValueError(f"max_rate must be > 0 requests/s, got {max_rate}")
        self.name = name
        self.max_rate = max_rate
        self.min_rate = min_rate if min_rate is not None else max(max_rate / 32, 0.1)
        # Default: back from half rate to full in about five seconds.
        self.recovery_per_s = recovery_per_s if recovery_per_s is not None else max_rate / 10
        self._clock = clock
        self._lock = threading.Lock()
        self._bucket = TokenBucket(
            max_rate, capacity, clock=clock, sleep=sleep, before_turn=self._recover_now
        )
        # What scales with the ceiling when it moves (``set_max_rate``), as fractions of it.
        self._floor_share = self.min_rate / max_rate
        self._recovery_share = self.recovery_per_s / max_rate
        self._burst_share = self._bucket.capacity / max_rate
        self._last_adjusted = clock()
        metrics = engine_metrics(registry)
        self._rate_gauge = metrics.pacer_rate.labels(name)
        self._ceiling_gauge = metrics.pacer_ceiling.labels(name)
        self._wait_counter = metrics.pacer_wait_seconds.labels(name)
        self._limited_counter = metrics.pacer_rate_limited.labels(name)
        self._rate_gauge.set(max_rate)
        self._ceiling_gauge.set(max_rate)

    @property
    def rate(self) -> float:
        with self._lock:
            self._recover(self._clock())
            return self._bucket.rate

    def acquire(self) -> float:
        """Block until the next call may go out; return the seconds waited."""
        waited = self._bucket.acquire()
        if waited > 0:
            self._wait_counter.inc(waited)
        return waited

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """The API answered 429: halve the rate and honour ``retry_after`` seconds."""
        with self._lock:
            now = self._clock()
            self._recover(now)
            rate = max(self.min_rate, self._bucket.rate / 2)
            self._bucket.set_rate(rate)
            self._last_adjusted = now
            self._rate_gauge.set(rate)
            if retry_after is not None and retry_after > 0:
                self._bucket.block_until(now + retry_after)
        self._limited_counter.inc()

    def set_max_rate(self, max_rate: float) -> None:
        """A new ceiling (this member's new share of the budget after a rebalance).

        The floor, the recovery speed and the burst scale with it, and so does the
        current rate: a pacer a 429 had slowed to half its old ceiling goes on at half
        the new one and recovers from there as before (AIMD is not reset by a rebalance).
        """
        if max_rate <= 0:
            raise ValueError(f"max_rate must be > 0 requests/s, got {max_rate}")
        with self._lock:
            now = self._clock()
            self._recover(now)
            scale = max_rate / self.max_rate
            self.max_rate = max_rate
            self.min_rate = self._floor_share * max_rate
            self.recovery_per_s = self._recovery_share * max_rate
            rate = min(max_rate, max(self.min_rate, self._bucket.rate * scale))
            self._bucket.set_rate(rate, self._burst_share * max_rate)
            self._last_adjusted = now
            self._rate_gauge.set(rate)
            self._ceiling_gauge.set(max_rate)

    def _recover_now(self) -> None:
        with self._lock:
            self._recover(self._clock())

    def _recover(self, now: float) -> None:
        rate = self._bucket.rate
        if rate >= self.max_rate:
            self._last_adjusted = now
            return
        elapsed = now - self._last_adjusted
        if elapsed <= 0:
            return
        rate = min(self.max_rate, rate + elapsed * self.recovery_per_s)
        self._bucket.set_rate(rate)
        self._last_adjusted = now
        self._rate_gauge.set(rate)


# A member that owns none of the input still needs a rate above zero (work it is abandoning
# after a revoke may still call): this fraction of the budget.
IDLE_SHARE = 0.01
# A new share within this fraction of the pacer's ceiling leaves it alone (reports repeat).
_RESIZE_TOLERANCE = 1e-6


class BudgetShare:
    """Paces one member of a consumer group at its share of an account's request budget.

    A member owning ``k`` of the ``n`` partitions of the topics whose consumer calls the
    API paces at ``budget * k / n``, recomputed on every rebalance (``on_assignment``).
    Kafka never lets two members own one partition, and cooperative rebalancing revokes a
    partition before assigning it elsewhere, so the shares of a group never add up to
    more than the budget, also while partitions move. It assumes work spreads evenly over
    those partitions, which keyed topics give when keys are many.

    Where the members tell one another which partitions have work (a ``DemandBoard``
    calling ``on_demand``), a member paces instead at the budget times its busy partitions
    over the group's (``busy_share``): partitions that ran dry give their part of the budget
    to those that did not, until they have work again.
    """

    def __init__(
        self,
        pacer: Pacer,
        budget: float,
        topics: Collection[str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if budget <= 0:
            raise ValueError(f"the budget must be > 0 requests/s, got {budget}")
        if not topics:
            raise ValueError("a budget share needs the topics whose partitions it divides")
        self.pacer = pacer
        self.budget = budget
        self.topics = frozenset(topics)
        self._clock = clock
        self._lock = threading.Lock()
        self._assignment: Assignment | None = None
        self._demand: tuple[Demand, list[Demand]] | None = None
        # (since, rate) of the shares computed in the last RAISE_AFTER_S seconds, oldest
        # first; the first is the one that was in force when that window began.
        self._recent: deque[tuple[float, float]] = deque()

    def on_assignment(self, assignment: Assignment) -> None:
        with self._lock:
            self._assignment = assignment
            self._resize(log.info)

    def on_demand(self, own: Demand | None, others: list[Demand]) -> None:
        """What the group's members report of their work (None: no reports, pace by
        partitions)."""
        with self._lock:
            self._demand = None if own is None else (own, others)
            self._resize(log.debug)

    def _resize(self, note: Callable[..., None]) -> None:
        if self._assignment is None:
            return
        owned, total = self._assignment.share_of(self.topics)
        if total == 0:
            log.warning(
                "%s pacing: no partition count known for %s; keeping %.1f requests/s",
                self.pacer.name,
                sorted(self.topics),
                self.pacer.max_rate,
            )
            return
        fraction = owned / total
        basis = f"{owned} of {total} partitions"
        if self._demand is not None:
            own, others = self._demand
            busy = busy_share(own, others, total)
            if busy is not None:
                fraction = busy
                basis = f"{own.busy} busy partitions of the group's {total}"
        rate = self._held(self.budget * max(fraction, IDLE_SHARE))
        if abs(rate - self.pacer.max_rate) <= _RESIZE_TOLERANCE * self.pacer.max_rate:
            return
        self.pacer.set_max_rate(rate)
        note(
            "%s pacing: %s, %.1f of the account's %.1f requests/s",
            self.pacer.name,
            basis,
            rate,
            self.budget,
        )

    def _held(self, rate: float) -> float:
        """``rate``, or while members report their work, the lowest share of the last
        ``RAISE_AFTER_S`` seconds: a share falls at once and rises only once the others can
        have heard why. Two members whose partitions got work at the same moment each see
        their own work before the other's report, and each would take the whole budget
        (a real-broker run sent 102 requests in one second that way)."""
        now = self._clock()
        recent = self._recent
        recent.append((now, rate))
        while len(recent) > 1 and recent[1][0] <= now - RAISE_AFTER_S:
            recent.popleft()
        if self._demand is None:
            return rate  # shares by partitions: Kafka's rebalancing keeps them apart
        return min(held for _, held in recent)
