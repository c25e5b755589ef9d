"""What a preflight check reports: one line per dependency, OK or FAIL, naming the setting."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """``detail`` is one human line; on failure it names the setting to fix.

    ``transient`` marks a failure of the world rather than of the configuration (the
    dependency is unreachable or answering 5xx): waiting may fix it, editing settings won't.
    """

    name: str
    ok: bool
    detail: str
    transient: bool = False

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


class PreflightFailed(RuntimeError):
    """A role cannot start; the message is the one line the operator sees."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(f"{result.name}: {result.detail}")
        self.result = result
