"""Is a consumer group running? Asked before its offsets are rewritten.

Kafka rejects offset changes for a group with members, but a refusal up front
tells the operator why, before anything is shown or confirmed. Brokers differ in
what they report: Apache Kafka lists members and a state; Tansu (the embedded
broker) lists no members at all, reports ``STABLE`` while members are joined and
an unknown state while they are joining. So only a state that means "nobody is
here" (``EMPTY``, ``DEAD``) with no members counts as stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

_STOPPED_STATES = frozenset({ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD})


class GroupActiveError(RuntimeError):
    """The group has members (or may have): stop them before changing its offsets."""


@dataclass(frozen=True)
class GroupActivity:
    group: str
    state: str
    members: int

    @property
    def stopped(self) -> bool:
        return self.members == 0 and self.state in {s.name for s in _STOPPED_STATES}


def group_activity(admin: AdminClient, group: str, timeout_s: float = 10.0) -> GroupActivity:
    description = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group].result()
    state = description.state
    name = state.name if isinstance(state, ConsumerGroupState) else str(state)
    return GroupActivity(group, name, len(description.members or []))


def ensure_stopped(admin: AdminClient, group: str, timeout_s: float = 10.0) -> GroupActivity:
    """The group's activity, or ``GroupActiveError`` when it is not provably stopped."""
    activity = group_activity(admin, group, timeout_s)
    if not activity.stopped:
        members = f"{activity.members} member(s), " if activity.members else ""
        raise GroupActiveError(
            f"consumer group {group!r} is active ({members}state {activity.state}); "
            "stop every process of the group and wait for its session to expire first"
        )
    return activity
