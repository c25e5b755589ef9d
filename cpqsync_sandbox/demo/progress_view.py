"""The live progress panel, or plain lines where nobody watches a terminal.

In a terminal a rich ``Live`` table redraws in place. Without one (CI=true, output
piped to a file) redrawing would only fill the log with escape codes, so each
change is printed once as a plain line instead.
"""

from __future__ import annotations

import os
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cpqsync_sandbox.demo.progress import Snapshot


def interactive(console: Console) -> bool:
    """A terminal someone is looking at; CI logs are not, even when they claim a TTY."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return console.is_terminal and not ci


def demo_console() -> Console:
    """A terminal's own width; without one (CI logs) wide enough for ids not to wrap."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        return Console(width=140)
    return console


def _lag_text(lag: dict[str, int | None]) -> str:
    return ", ".join(f"{role} {'-' if n is None else n}" for role, n in lag.items()) or "-"


def snapshot_table(snapshot: Snapshot, step: str) -> Group:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Orders activated", f"{snapshot.activated} / {snapshot.total}")
    table.add_row("Synced (Success)", str(snapshot.synced))
    table.add_row("Errored", str(snapshot.errored))
    if snapshot.unexpected:
        table.add_row("Not as expected", Text(str(snapshot.unexpected), style="red"))
    table.add_row(
        "Stripe requests/s",
        f"{snapshot.stripe_per_second:.1f}  (total {snapshot.stripe_requests}, "
        f"429s {snapshot.stripe_rate_limited})",
    )
    table.add_row("Consumer lag", _lag_text(dict(snapshot.lag)))
    table.add_row("Elapsed", f"{snapshot.elapsed_s:.0f}s")
    return Group(Text(step, style="cyan"), table)


def plain_line(snapshot: Snapshot) -> str:
    return (
        f"[{snapshot.elapsed_s:5.1f}s] activated {snapshot.activated}/{snapshot.total}, "
        f"synced {snapshot.synced}, errored {snapshot.errored}, "
        f"Stripe {snapshot.stripe_per_second:.1f} req/s ({snapshot.stripe_requests} total), "
        f"lag {_lag_text(dict(snapshot.lag))}"
    )


class ProgressView:
    """``with ProgressView(console) as view: view.step(...); view.show(snapshot)``."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live: Live | None = None
        self._step = ""
        self._last: Snapshot | None = None
        self._last_plain: tuple[int, int, int] | None = None

    def __enter__(self) -> ProgressView:
        if interactive(self._console):
            self._live = Live(console=self._console, refresh_per_second=4, transient=False)
            self._live.start()
        return self

    def step(self, text: str) -> None:
        self._step = text
        if self._live is None:
            self._console.print(text)
        elif self._last is not None:
            self._live.update(snapshot_table(self._last, text))
        else:
            self._live.update(Text(text, style="cyan"))

    def show(self, snapshot: Snapshot) -> None:
        self._last = snapshot
        if self._live is not None:
            self._live.update(snapshot_table(snapshot, self._step))
            return
        key = (snapshot.activated, snapshot.synced, snapshot.errored)
        if key != self._last_plain:
            self._last_plain = key
            self._console.print(plain_line(snapshot), highlight=False)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
