"""The killer: SIGKILL a random role at random intervals and bring it back, as faust's stress
tests do, while a third sync member joins and leaves to force rebalances.

A role that exits without being killed is a crash: it is restarted too (so the run goes on) but
counted, and the test fails on any.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.chaos.roles import RoleProcess


@dataclass
class KillerStats:
    kills: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    member_joins: int = 0
    member_leaves: int = 0
    crashes: list[str] = field(default_factory=list)


class Killer:
    """``interval`` is the (min, max) seconds between two kills."""

    def __init__(
        self,
        victims: list[RoleProcess],
        spare: RoleProcess,
        interval: tuple[float, float],
        *,
        seed: int = 0,
        downtime: tuple[float, float] = (0.0, 1.5),
    ) -> None:
        self.victims = victims
        self.spare = spare
        self.interval = interval
        self.downtime = downtime
        self.rng = random.Random(seed)
        self.stats = KillerStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-killer", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> Killer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop killing and make sure every victim runs again (the spare leaves)."""
        self._stop.set()
        self._thread.join(60)
        self._revive_crashed()
        for role in self.victims:
            if not role.alive():
                role.start()
                self.stats.restarts += 1
        if self.spare.alive():
            self.spare.terminate(timeout=15)
            self.stats.member_leaves += 1
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.rng.uniform(*self.interval)):
                self._revive_crashed()
                if self.rng.random() < 0.2:
                    self._toggle_spare()
                    continue
                victim = self.rng.choice(self.victims)
                if victim.kill():
                    self.stats.kills[victim.name] += 1
                if self._stop.wait(self.rng.uniform(*self.downtime)):
                    break
                victim.start()
                self.stats.restarts += 1
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def _toggle_spare(self) -> None:
        """A third member joining or leaving the sync group: a rebalance either way."""
        if self.spare.alive():
            if self.rng.random() < 0.5:
                self.spare.terminate(timeout=15)
            else:
                self.spare.kill()
                self.stats.kills[self.spare.name] += 1
            self.stats.member_leaves += 1
        else:
            self.spare.start()
            self.stats.member_joins += 1

    def _revive_crashed(self) -> None:
        for role in self.victims:
            code = role.exit_code
            if code is not None and code != -9:  # -9: our SIGKILL
                self.stats.crashes.append(f"{role.name} exited with {code}")
                role.start()
                self.stats.restarts += 1
