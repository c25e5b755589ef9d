"""One writer per Stripe object: what a root leaves to another root, and how it asks for it.

A customer belongs to its Account's root, yet every order of the account needs it (C1). Two
roots writing one customer raced (docs/reliability.md, fix 17): an order that read the account
before an edit could overwrite the edit's newer values. So an order root never updates a
customer: it plans the update as before (convergence then drops it when Stripe already holds
those values), and one that is left is not sent but asked of the Account's root, which re-reads
the account and writes the customer itself. An order root still creates a missing customer,
since its schedule needs the id now (under a key naming the account alone, so one customer is
ever made), and then asks the Account's root too, which catches any edit the create missed.

The ask is root work on the repartition topic keyed by the asked root, so it reaches whichever
member owns that root, in order with the root's other work.

A plan may also wait for another root (P7: an order whose entry's Stripe price is out of date;
``Plan.waits``). Then nothing is applied: the first waited-for root is asked with ``then``
holding the order's own work, and each asked root, once done whatever the outcome, produces
the next step (``resume``): the next root to ask, or the order's work, which names what it
waited for so that it never waits for the same root twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

from consumer.engine import OutputMessage
from consumer.sync.apply import ApplyOutcome
from consumer.sync.planning import Plan, SourceRecord
from consumer.sync.results import Attempt
from consumer.sync.stripe_operations import operation_kind
from consumer.sync.triggers import RecordRef
from schemas.codec import Codec
from schemas.headers import schema_header
from schemas.models import Resume, RootWork, utc_now

# The object type a plan waits for (P7); ``Resume.pending`` lists ids of it.
WAITED_TYPE = "PricebookEntry"


@dataclass(frozen=True)
class LeftToOthers:
    """A plan less the updates other roots own, with the records whose roots to ask."""

    plan: Plan
    # Their update is theirs to make: asked whether or not this plan applies.
    asked: tuple[SourceRecord, ...]
    # Created by this plan (it needs their id): asked once the create is applied.
    created: tuple[SourceRecord, ...]

    def asks(self, outcome: ApplyOutcome | None) -> tuple[SourceRecord, ...]:
        """The records to ask about once ``outcome`` (None: nothing applied) is known."""
        made = {a.operation.source for a in outcome.applied} if outcome is not None else set()
        return tuple(dict.fromkeys((*self.asked, *(r for r in self.created if r in made))))


def leave_to_others(plan: Plan, others: Collection[str]) -> LeftToOthers:
    """Split off the operations on records of the object types in ``others``."""
    if not others:
        return LeftToOthers(plan, (), ())
    kept = []
    asked: list[SourceRecord] = []
    created: list[SourceRecord] = []
    for op in plan.operations:
        if op.source.object_type not in others:
            kept.append(op)
        elif operation_kind(op.kind).updates:
            asked.append(op.source)
        else:
            kept.append(op)
            created.append(op.source)
    if len(kept) == len(plan.operations) and not created:
        return LeftToOthers(plan, (), ())
    return LeftToOthers(
        dataclasses.replace(plan, operations=tuple(kept)), tuple(asked), tuple(created)
    )


class RootWorkOutputs:
    """Root work (the trigger stage's, and asks) as messages for the repartition topic.

    Thread-safe."""

    def __init__(self, codec: Codec, topic: str) -> None:
        self._codec = codec
        self._topic = topic

    def asks(self, attempt: Attempt, records: Collection[SourceRecord]) -> list[OutputMessage]:
        """Asks of ``records``' roots, made by ``attempt``'s root."""
        return [self.output(self._ask(attempt, record)) for record in records]

    def output(self, work: RootWork) -> OutputMessage:
        """``work`` as the message the root stage consumes, keyed by its root."""
        return OutputMessage(
            topic=self._topic,
            value=self._codec.encode(work, self._topic),
            key=work.root_id.encode(),
            headers=(schema_header(work),),
        )

    def wait(
        self, attempt: Attempt, billing_root: RecordRef, records: Collection[SourceRecord]
    ) -> OutputMessage:
        """Ask the first of ``records``' roots, to resume ``attempt``'s work after the last.

        One at a time, each asked root passing the rest on (``resume``): the work is resumed
        once, after all of them. A record waited for once is not waited for again."""
        ids = [r.id for r in records if r.object_type == WAITED_TYPE]
        if len(ids) != len(records):
            raise ValueError(f"only {WAITED_TYPE} records are waited for, not {records}")
        then = Resume(
            root_object_type=billing_root.object_type,
            root_id=billing_root.id,
            object_type=attempt.root.object_type,
            record_id=attempt.root.id,
            manual=attempt.manual,
            request_id=attempt.request_id,
            trigger_commit_timestamp=attempt.commit_timestamp,
            source_offsets=list(attempt.sources),
            pending=ids,
            waited_for=[*attempt.waited_for, *ids],
        )
        return self.resume(then)

    def resume(self, then: Resume) -> OutputMessage:
        """The next step of ``then``: the next record to ask, or the waiting work itself."""
        if then.pending:
            first, *rest = then.pending
            return self.output(
                RootWork(
                    root_object_type=WAITED_TYPE,
                    root_id=first,
                    object_type=WAITED_TYPE,
                    record_id=first,
                    manual=then.manual,
                    resolved_at=utc_now(),
                    asked_by_object_type=then.object_type,
                    asked_by_record_id=then.record_id,
                    then=then.model_copy(update={"pending": rest}),
                )
            )
        return self.output(
            RootWork(
                root_object_type=then.root_object_type,
                root_id=then.root_id,
                object_type=then.object_type,
                record_id=then.record_id,
                manual=then.manual,
                request_id=then.request_id,
                trigger_commit_timestamp=then.trigger_commit_timestamp,
                source_offsets=list(then.source_offsets),
                resolved_at=utc_now(),
                waited_for=list(then.waited_for),
            )
        )

    @staticmethod
    def _ask(attempt: Attempt, record: SourceRecord) -> RootWork:
        # The asked record is a root of its own (an Account): its id is the key. Manual
        # carries over, so a manual order sync with live sync off still updates its customer
        # (S4); the request id does not, since the asked sync is not the request's answer.
        return RootWork(
            root_object_type=record.object_type,
            root_id=record.id,
            object_type=record.object_type,
            record_id=record.id,
            manual=attempt.manual,
            resolved_at=utc_now(),
            asked_by_object_type=attempt.root.object_type,
            asked_by_record_id=attempt.root.id,
        )
