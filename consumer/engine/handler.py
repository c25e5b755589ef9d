"""The contract between the engine and the code that does the work.

A ``BatchHandler`` receives a batch of ready messages, all with different keys
(the engine never has two messages of one key in flight, and hands each key's
messages over in offset order), and returns one ``Outcome`` per message, in the
batch's order. Batches let the sync consumer hydrate many records with one
Salesforce query and the writeback consumer fill a 200-record collection call.
``PerMessageHandler`` adapts a plain function for handlers that gain nothing
from batching.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from consumer.engine.messages import Message, OutputMessage
from consumer.engine.outcomes import Failure, Outcome, Processed, outcome_from_exception

T = TypeVar("T")


class BatchHandler(ABC, Generic[T]):
    """Subclass this; the engine calls it from its worker threads, so it must be thread-safe."""

    #: Upper bound on a batch. The engine splits the ready messages across idle
    #: workers, so batches reach this size only when there is more work than workers.
    max_batch_size: int = 100

    @abstractmethod
    def handle_batch(self, batch: Sequence[Message[T]]) -> Sequence[Outcome]:
        """Process ``batch``; return one outcome per message, same order.

        Raising instead applies ``outcome_from_exception`` to every message.
        """

    def on_give_up(self, message: Message[T], failure: Failure) -> Sequence[OutputMessage]:
        """Record a message that failed permanently (``Fail``); its offset then moves on.

        A message whose retries ran out goes to the dead-letter topic instead (the failure
        was transient, not the record's), and comes here only when there is none. A
        ``DependencyDown`` never comes here: the engine holds the message until it passes.
        Return outputs (e.g. an Error sync result) to produce before the commit.
        If this raises, the message goes to the dead-letter topic instead, so
        nothing is dropped silently.
        """
        return ()

    def on_dead_letter(self, message: Message[T], failure: Failure) -> Sequence[OutputMessage]:
        """Outputs to produce along with ``message``'s dead letter, before its commit.

        For work the message carries on behalf of others, which must go on even though this
        message's own work did not (a continuation another record waits for). The dead letter
        keeps the message itself for a redrive; this is called once per dead-lettering after
        the handler was tried (retries ran out, or ``on_give_up`` raised), never for a message
        that did not decode.
        """
        return ()


MessageFunction = Callable[[Message[T]], Sequence[OutputMessage] | None]
GiveUpFunction = Callable[[Message[T], Failure], Sequence[OutputMessage]]


class PerMessageHandler(BatchHandler[T]):
    """One message at a time: return outputs (or None); raise Retryable/PermanentError."""

    max_batch_size = 1

    def __init__(
        self,
        handle: MessageFunction[T],
        on_give_up: GiveUpFunction[T] | None = None,
    ) -> None:
        self._handle = handle
        self._on_give_up = on_give_up

    def handle_batch(self, batch: Sequence[Message[T]]) -> Sequence[Outcome]:
        outcomes: list[Outcome] = []
        for message in batch:
            try:
                outputs = self._handle(message)
            except Exception as exc:  # noqa: BLE001 - classified, never swallowed
                outcomes.append(outcome_from_exception(exc))
            else:
                outcomes.append(Processed(tuple(outputs or ())))
        return outcomes

    def on_give_up(self, message: Message[T], failure: Failure) -> Sequence[OutputMessage]:
        if self._on_give_up is None:
            return ()
        return self._on_give_up(message, failure)
