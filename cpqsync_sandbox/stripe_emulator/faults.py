"""Injected latency and failures, configurable at runtime (Python API or admin endpoint).

A fault fires on a share of matching requests (``rate``) or exactly on the Nth
matching request (``nth``). ``stage`` says whether it strikes before the request
runs, ``during`` it (an error only: the endpoint began and failed before making
or changing anything) or after (the object exists but the client never sees the
result, the case idempotency keys exist for). Errors injected during or after
execution are stored under the idempotency key and carry
``Stripe-Should-Retry: false``, as Stripe does for a 500 it would only replay;
errors before execution store nothing and say ``true``.
"""

from __future__ import annotations

import random
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator


class LatencyConfig(BaseModel):
    """Added before every API request: fixed, or drawn from a distribution."""

    model_config = ConfigDict(extra="forbid")

    distribution: Literal["fixed", "uniform", "normal", "exponential"] = "fixed"
    fixed_ms: float = Field(0.0, ge=0)
    low_ms: float = Field(0.0, ge=0)
    high_ms: float = Field(0.0, ge=0)
    mean_ms: float = Field(0.0, ge=0)
    stddev_ms: float = Field(0.0, ge=0)

    def sample_seconds(self) -> float:
        if self.distribution == "fixed":
            ms = self.fixed_ms
        elif self.distribution == "uniform":
            ms = random.uniform(self.low_ms, self.high_ms)
        elif self.distribution == "normal":
            ms = random.gauss(self.mean_ms, self.stddev_ms)
        else:
            ms = random.expovariate(1 / self.mean_ms) if self.mean_ms else 0.0
        return max(ms, 0.0) / 1000


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["error", "timeout", "drop"]
    rate: float = Field(0.0, ge=0, le=1)
    nth: int | None = Field(None, ge=1)
    method: str | None = None
    path: str | None = Field(None, description="regular expression searched in the path")
    stage: Literal["before", "during", "after"] = "before"
    status: int = Field(500, ge=500, le=599)
    should_retry: bool | None = None
    hold_seconds: float = Field(30.0, ge=0, description="how long a timeout holds the request")
    max_count: int | None = Field(None, ge=1, description="stop after firing this many times")

    _seen: int = PrivateAttr(0)
    _fired: int = PrivateAttr(0)

    @model_validator(mode="after")
    def _needs_trigger(self) -> FaultRule:
        if self.rate == 0 and self.nth is None:
            raise ValueError("a fault needs a rate > 0 or an nth request to fire on")
        if self.path is not None:
            re.compile(self.path)
        if self.stage == "during" and self.kind != "error":
            raise ValueError("only an error can strike during a request (its endpoint fails)")
        return self

    @property
    def fired(self) -> int:
        return self._fired

    def retry_header(self) -> bool:
        return self.should_retry if self.should_retry is not None else self.stage == "before"

    def consider(self, method: str, path: str) -> bool:
        """Count a matching request and say whether the fault fires on it."""
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is not None and re.search(self.path, path) is None:
            return False
        self._seen += 1
        if self.max_count is not None and self._fired >= self.max_count:
            return False
        fires = self._seen == self.nth if self.nth is not None else random.random() < self.rate
        if fires:
            self._fired += 1
        return fires


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    faults: list[FaultRule] = Field(default_factory=list)

    def pick(self, method: str, path: str) -> FaultRule | None:
        """At most one fault per request: the first rule that fires."""
        chosen = None
        for rule in self.faults:
            if rule.consider(method, path) and chosen is None:
                chosen = rule
        return chosen
