"""Whether the services a role depends on answer, and what happens when one stops answering.

A systemic failure (``DependencyDown``: network, 401/403, 5xx, limits) marks its dependency
down. That is told once: one log line naming the dependency, the error and the setting to
check, and ``cpqsync_dependency_up{dependency=...}`` at 0. ``on_change`` lets the engine hold
its work meanwhile. A prober thread then calls the dependency's cheap probe (an authenticated
read) with capped exponential backoff and full jitter until it answers; one more line says it
is back, the gauge returns to 1, and ``on_change`` lets the work go on. More failures of a
dependency already down are only counted: an outage is two log lines, however long it lasts.

A dependency without a probe is declared back after one backoff, and the held work itself
finds out whether it really is. A probe can answer while real work still fails (Stripe taking
reads but not writes): a dependency down again soon after it came back goes on with the
backoff where it stopped, so such a half outage cycles at most once per longest backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import Gauge

from consumer.engine.outcomes import DependencyDown
from consumer.engine.retry import RetryPolicy
from cpqsync.observability.logging import redact

log = logging.getLogger(__name__)

Probe = Callable[[], object]  # raises while the dependency does not answer
# Longest wait between two probes: a dependency that is back is noticed within this (plus
# one probe), whatever the length of the outage.
PROBE_MAX_BACKOFF_S = 10.0
# Down again within this long of coming back: the same trouble, the backoff goes on.
RELAPSE_WINDOW_S = 60.0


@dataclass(frozen=True)
class Dependency:
    """A service the role needs: its name (the gauge's label), what to check, how to probe it."""

    name: str
    setting: str
    probe: Probe | None = None


@dataclass
class _Outage:
    since: float
    error: str
    next_probe: float
    probes: int = 0
    failures: int = 1
    step: int = 1  # how far along the backoff curve the next probe waits


class DependencyHealth:
    """Thread-safe: workers and the polling thread report, a prober thread of its own probes.

    ``on_change`` is called with the lock held, so holds and resumes arrive in order; it must
    not call back into this object. Outages are rare, so the gauge and the log lines are
    written under the lock too, in the order the changes happened.
    """

    def __init__(
        self,
        dependencies: Iterable[Dependency],
        *,
        group: str,
        gauge: Gauge,
        backoff: RetryPolicy,
        on_change: Callable[[bool], None] = lambda _all_up: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dependencies = {d.name: d for d in dependencies}
        self._group = group
        self._gauge = gauge
        self._backoff = backoff
        self._on_change = on_change
        self._clock = clock
        self._down: dict[str, _Outage] = {}
        self._recovered: dict[str, tuple[float, int]] = {}  # name -> (when, backoff step)
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        # Born at 1: a dashboard shows a dependency that never failed, not an empty panel.
        for name in self._dependencies:
            gauge.labels(group, name).set(1)

    # --- reporting (any thread) ----------------------------------------------------------

    def report(self, error: DependencyDown) -> None:
        """``error.dependency`` failed systemically: mark it down (and say so) unless it is."""
        name = error.dependency
        text = redact(str(error)) or type(error).__name__
        with self._changed:
            outage = self._down.get(name)
            if outage is not None:
                outage.failures += 1
                outage.error = text
                return
            dependency = self._dependencies.get(name)
            if dependency is None:
                dependency = self._dependencies[name] = Dependency(name, error.setting or name)
            now = self._clock()
            step = 1
            recovered_at, step_before = self._recovered.pop(name, (float("-inf"), 1))
            if now - recovered_at < RELAPSE_WINDOW_S:
                step = step_before
            self._down[name] = _Outage(
                since=now, error=text, next_probe=now + self._delay(step), step=step
            )
            # All under the lock (these are rare): a quick probe's "back" must not overtake
            # this "down", in the engine's hold, the gauge or the log.
            if len(self._down) == 1:
                self._on_change(False)
            self._gauge.labels(self._group, name).set(0)
            log.error(
                "%s is down for consumer group %s: %s. Holding in-flight messages and pausing "
                "partitions (nothing is committed past them); probing %s with backoff (at most "
                "%.0fs apart) and resuming by itself. Check %s.",
                name,
                self._group,
                text,
                name,
                self._backoff.max_backoff_s,
                error.setting or dependency.setting,
            )
            self._changed.notify_all()

    # --- state -------------------------------------------------------------------------

    @property
    def all_up(self) -> bool:
        return not self._down

    def down(self) -> list[str]:
        with self._changed:
            return sorted(self._down)

    def is_up(self, name: str) -> bool:
        return name not in self._down

    # --- the prober --------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._probe_loop, name=f"dependency-probe-{self._group}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop probing (a probe under way is not interrupted; the thread is a daemon)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def probe_due(self) -> bool:
        """Run the probes that are due now; True if one found its dependency back (tests)."""
        recovered = False
        for name in self._due(self._clock()):
            recovered |= self._probe(name)
        return recovered

    def _probe_loop(self) -> None:
        while True:
            with self._changed:
                if self._stopping:
                    return
                if not self._down:
                    self._changed.wait()
                    continue
                wait = min(o.next_probe for o in self._down.values()) - self._clock()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
            self.probe_due()

    def _due(self, now: float) -> list[str]:
        with self._changed:
            return [name for name, o in self._down.items() if o.next_probe <= now]

    def _probe(self, name: str) -> bool:
        probe = self._dependencies[name].probe
        try:
            if probe is not None:
                probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "still down"
            with self._changed:
                outage = self._down.get(name)
                if outage is not None:
                    outage.probes += 1
                    outage.step += 1
                    outage.error = redact(str(exc)) or type(exc).__name__
                    outage.next_probe = self._clock() + self._delay(outage.step)
            log.debug("%s still down: %s", name, exc)
            return False
        with self._changed:
            outage = self._down.pop(name, None)
            if outage is None:
                return False
            self._recovered[name] = (self._clock(), outage.step + 1)
            if not self._down:
                self._on_change(True)
            self._gauge.labels(self._group, name).set(1)
            log.warning(
                "%s is back for consumer group %s after %.0fs down (%d failed call(s), %d "
                "probe(s)); resuming",
                name,
                self._group,
                self._clock() - outage.since,
                outage.failures,
                outage.probes + 1,
            )
        return True

    def _delay(self, probes: int) -> float:
        return self._backoff.delay(probes)
