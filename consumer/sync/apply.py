"""Executes a Plan against Stripe, stage by stage, each POST under its plan key.

Operations run in plan order, except that neighbours ``plan_stages`` finds independent (an
order's line prices, its archives) are sent together; a ``$ref`` placeholder is filled from the
objects earlier operations returned. Every call carries the operation's deterministic
idempotency key, so running the same plan again (a retry, a redelivered event) replays Stripe's
first answers instead of creating anything twice. A 4xx stops the plan after its stage (what
the stage's other operations did is reported too), naming the operation that failed; a
transient failure propagates so the engine retries the message, and the retry re-plans from
fresh state under the same keys.

Stripe also stores a 5xx for the key of a request that had begun, and replays it to every
later request with that key: the request made its object or not, and the key cannot tell. An
update is sent again under a new key (setting the same values twice is harmless). A create
is, only where the plan came from a retry's lookups and those find whatever a request of its
kind made (``OperationKind.found_by_lookups``): the create is planned only because nothing
was found, so the stored 5xx made nothing, and the new key makes the object once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import stripe

from consumer.engine import RetryableError
from consumer.sync.failures import StripeRejected, StripeUnavailable
from consumer.sync.plan_stages import stages
from consumer.sync.planning import Operation, Plan, resolve_refs
from consumer.sync.planning.idempotency import MAX_KEY_LENGTH
from consumer.sync.side_by_side import SideBySide
from consumer.sync.stripe_calls import StripeCaller, to_plain
from consumer.sync.stripe_operations import Call, operation_kind


def _send(
    call: Call,
    target: Any,
    params: dict[str, Any],
    options: stripe.RequestOptions,
    client: stripe.StripeClient,
) -> stripe.StripeObject:
    return call(client, target, params, options)


def _no_target(target: Any, kind: str) -> None:
    if target is not None:
        raise ValueError(f"{kind} takes no target, the plan gave {target!r}")


def _target(target: Any, kind: str) -> str:
    if not isinstance(target, str) or not target:
        raise ValueError(f"{kind} needs the id of the object it acts on, the plan gave {target!r}")
    return target


@dataclass(frozen=True)
class Applied:
    """One operation Stripe answered: the object it returned and the request that did it."""

    operation: Operation
    result: Mapping[str, Any]
    request_id: str | None
    # The answer to an earlier identical request (Stripe's replay, or this process's): the
    # object as it was then, not necessarily as it is now.
    replayed: bool = False

    @property
    def stripe_id(self) -> str | None:
        value = self.result.get("id")
        return str(value) if value else None


@dataclass
class ApplyOutcome:
    """What a plan did. ``failed`` is the operation Stripe refused (``error`` says how)."""

    plan: Plan
    applied: list[Applied] = field(default_factory=list)
    failed: Operation | None = None
    error: StripeRejected | None = None

    @property
    def request_ids(self) -> list[str]:
        ids = [a.request_id for a in self.applied if a.request_id]
        if self.error is not None and self.error.request_id:
            ids.append(self.error.request_id)
        return ids


log = logging.getLogger(__name__)

# Keys tried after a request's own key holds a stored 5xx, each only once the one before it
# turned out to hold one too: a 5xx stored twice more means Stripe is in trouble, not the key.
MAX_NEW_KEYS = 3


class OwnershipLost(RetryableError):
    """The member stopped owning the work mid-plan; the new owner redoes it from fresh state."""


class PlanApplier:
    """Thread-safe. ``parallelism`` bounds the extra threads that send a stage's operations."""

    def __init__(self, caller: StripeCaller, *, parallelism: int = 16) -> None:
        self._caller = caller
        self._side_by_side = SideBySide(parallelism, "cpqsync-apply")

    def apply(
        self,
        plan: Plan,
        still_owned: Callable[[], bool] = lambda: True,
        *,
        looked_up_afresh: bool = False,
    ) -> ApplyOutcome:
        """Run ``plan`` (which must be ready). Raises ``StripeUnavailable`` to be retried.

        ``still_owned`` is asked before each stage: once the member no longer owns the work
        (its partition was revoked and another member will redo it), nothing more is sent, so
        the root never has two writers (raises ``OwnershipLost``). ``looked_up_afresh``: the
        plan came from a retry's lookups (``StripeView.afresh``), so a create whose key holds a
        stored 5xx may take a new key."""
        if plan.status != "ready":
            raise ValueError(f"only a ready plan can be applied; {plan.root} is {plan.status}")
        outcome = ApplyOutcome(plan)
        results: dict[str, Mapping[str, Any]] = {}
        for stage in stages(plan.operations):
            if not still_owned():
                raise OwnershipLost(
                    f"{plan.root}: its partition was revoked; the next owner redoes it"
                )
            answers = self._side_by_side.run(
                [partial(self._run, op, results, looked_up_afresh) for op in stage]
            )
            transient = next(
                (a for a in answers if not isinstance(a, Applied | StripeRejected)), None
            )
            if transient is not None:
                raise transient  # the engine retries the message; the keys make that safe
            for operation, answer in zip(stage, answers, strict=True):
                if isinstance(answer, Applied):
                    results[operation.id] = answer.result
                    outcome.applied.append(answer)
                elif isinstance(answer, StripeRejected) and outcome.failed is None:
                    outcome.failed, outcome.error = operation, answer
            if outcome.failed is not None:
                return outcome
        return outcome

    def close(self) -> None:
        self._side_by_side.close()

    def _run(
        self,
        operation: Operation,
        results: Mapping[str, Mapping[str, Any]],
        looked_up_afresh: bool,
    ) -> Applied:
        kind = operation_kind(operation.kind)
        call = kind.call
        params = resolve_refs(operation.params, results)
        target = resolve_refs(operation.target, results)
        if kind.targets_existing:
            target = _target(target, kind.name)
        else:
            _no_target(target, kind.name)
        options: stripe.RequestOptions = {"idempotency_key": operation.idempotency_key}
        # The exact request: identical ones in flight together (workers planning the same new
        # customer) are sent once and share Stripe's answer, which a replay would repeat.
        request = json.dumps(
            [operation.kind, target, operation.idempotency_key, params], sort_keys=True, default=str
        )
        try:
            obj, replayed = self._caller.call_shared(
                lambda client: call(client, target, params, options), request
            )
        except StripeUnavailable as error:
            if not (
                error.replayed
                and (kind.targets_existing or (kind.found_by_lookups and looked_up_afresh))
            ):
                raise
            obj = self._under_new_keys(operation.idempotency_key, error, call, target, params)
            replayed = False
        response = obj.last_response
        replayed = replayed or bool(
            response and str(response.headers.get("Idempotent-Replayed", "")).lower() == "true"
        )
        request_id = response.request_id if response else None
        return Applied(operation, to_plain(obj), request_id, replayed=replayed)

    def _under_new_keys(
        self,
        key: str,
        stored: StripeUnavailable,
        call: Call,
        target: Any,
        params: dict[str, Any],
    ) -> stripe.StripeObject:
        """Send the request under the keys that follow ``key``, each only while the one before
        holds a stored 5xx. The keys are derived from ``key``, so whoever sends this request
        again (a later attempt, another member) takes the same ones."""
        previous = key
        for generation in range(1, MAX_NEW_KEYS + 1):
            suffix = ":retry" if generation == 1 else f":retry{generation}"
            new_key = f"{key[: MAX_KEY_LENGTH - len(suffix)]}{suffix}"
            log.warning(
                "Stripe answers idempotency key %s with a stored 5xx (request %s); sending the "
                "request again under %s",
                previous,
                stored.request_id or "unknown",
                new_key,
            )
            options: stripe.RequestOptions = {"idempotency_key": new_key}
            try:
                return self._caller.call(partial(_send, call, target, params, options))
            except StripeUnavailable as error:
                if not error.replayed:
                    raise
                stored, previous = error, new_key
        raise stored
