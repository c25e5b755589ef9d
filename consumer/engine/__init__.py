"""The generic consumer engine under the sync and writeback consumers (see docs/engine.md).

Import the public API from here; the submodules are one concept each.
"""

from consumer.engine.assignment import Assignment
from consumer.engine.config import EngineSettings, KafkaClients
from consumer.engine.dead_letter import DeadLetterEnvelope, DeadLetters, EnvelopeHeaders
from consumer.engine.dependencies import Dependency, DependencyHealth
from consumer.engine.errors import (
    DeadLetterLimitExceeded,
    EngineError,
    GiveUpFailed,
    HandlerContractError,
    OutputDeliveryError,
    UndecodableMessage,
)
from consumer.engine.handler import BatchHandler, PerMessageHandler
from consumer.engine.messages import Headers, Message, OutputMessage, PartitionId
from consumer.engine.outcomes import (
    DependencyDown,
    Fail,
    Failure,
    Outcome,
    PermanentError,
    Processed,
    Retry,
    RetryableError,
)
from consumer.engine.pacing import BudgetShare, Pacer, TokenBucket
from consumer.engine.retry import RetryPolicy
from consumer.engine.runner import ConsumerEngine
from consumer.engine.shutdown import install_signal_handlers

__all__ = [
    "Assignment",
    "BatchHandler",
    "BudgetShare",
    "ConsumerEngine",
    "DeadLetterEnvelope",
    "DeadLetterLimitExceeded",
    "DeadLetters",
    "Dependency",
    "DependencyDown",
    "DependencyHealth",
    "EngineError",
    "EngineSettings",
    "EnvelopeHeaders",
    "Fail",
    "Failure",
    "GiveUpFailed",
    "HandlerContractError",
    "Headers",
    "KafkaClients",
    "Message",
    "Outcome",
    "OutputDeliveryError",
    "OutputMessage",
    "Pacer",
    "PartitionId",
    "PerMessageHandler",
    "PermanentError",
    "Processed",
    "Retry",
    "RetryPolicy",
    "RetryableError",
    "TokenBucket",
    "UndecodableMessage",
    "install_signal_handlers",
]
