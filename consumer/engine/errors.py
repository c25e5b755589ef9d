"""Errors that stop the engine. Each says what happened and what the operator can do."""

from __future__ import annotations


class EngineError(RuntimeError):
    """The engine stopped; offsets were committed only up to work that was fully done."""


class DeadLetterLimitExceeded(EngineError):
    def __init__(self, topic: str, partition: int, count: int, last_error: str) -> None:
        super().__init__(
            f"{count} consecutive messages of topic {topic!r} partition {partition} could not "
            f"be decoded and went to the dead-letter topic (last error: {last_error}); stopping "
            "instead of draining a broken topic. Check the producer of that topic, then restart."
        )
        self.topic = topic
        self.partition = partition
        self.count = count


class UndecodableMessage(EngineError):
    """A decode failure the engine may not dead-letter (no DLQ topic, or an unexpected error)."""


class HandlerContractError(EngineError):
    """The handler broke its contract (wrong number of outcomes, not an Outcome)."""


class GiveUpFailed(EngineError):
    """``on_give_up`` raised and there is no dead-letter topic to keep the message."""


class OutputDeliveryError(EngineError):
    """Outputs or dead letters were not acknowledged, so their offsets were not committed."""
