"""The engine's dead letters in the envelope every writer of the dead-letter topic uses.

The engine says what a dead letter's envelope holds; the format is the Avro contract's
(``schemas.dead_letter``), shared with the bridge and read back by ``cpqsync dlq``. Every engine
the application runs with a dead-letter topic is given this, so all letters read alike.
"""

from __future__ import annotations

import dataclasses

from consumer.engine import DeadLetterEnvelope
from schemas.dead_letter import to_headers
from schemas.models import DeadLetter


def envelope_headers(envelope: DeadLetterEnvelope) -> list[tuple[str, bytes]]:
    # Field for field the contract's DeadLetter record (which forbids any other field).
    return to_headers(DeadLetter.model_validate(dataclasses.asdict(envelope)))
