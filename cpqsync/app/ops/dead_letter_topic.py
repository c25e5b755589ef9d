"""Reading the dead-letter topic whole: it is small by design (a DLQ rate limit stops consumers)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer

from cpqsync.app.ops.dead_letter_view import DeadLetterView, view
from cpqsync.app.ops.partition_bounds import (
    Bounds,
    PartitionKey,
    partition_bounds,
    probe_consumer,
    topic_partitions,
)
from cpqsync.app.ops.range_reader import RangeReader


class LetterNotFoundError(LookupError):
    """A ``partition:offset`` that is not on the dead-letter topic."""


def dlq_bounds(
    bootstrap: str, topic: str, timeout_s: float = 10.0, extra_config: dict[str, Any] | None = None
) -> dict[PartitionKey, Bounds]:
    probe: Consumer = probe_consumer(bootstrap, extra_config)
    try:
        keys = topic_partitions(probe, [topic], timeout_s)
    finally:
        probe.close()
    return partition_bounds(bootstrap, keys, timeout_s, extra_config)


def read_letters(
    bootstrap: str,
    topic: str,
    timeout_s: float = 30.0,
    extra_config: dict[str, Any] | None = None,
) -> list[DeadLetterView]:
    """Every retained dead letter, ordered by partition and offset."""
    bounds = dlq_bounds(bootstrap, topic, timeout_s, extra_config)
    reader = RangeReader(
        bootstrap, {key: (b.low, b.end) for key, b in bounds.items()}, timeout_s, extra_config
    )
    letters = [
        view(
            int(m.partition() or 0),
            int(m.offset() or 0),
            m.key(),
            m.value(),
            _header_list(m.headers()),
        )
        for m in reader
    ]
    return sorted(letters, key=lambda letter: (letter.partition, letter.offset))


def parse_ref(text: str) -> tuple[int, int]:
    """``partition:offset`` (or a bare offset, meaning partition 0)."""
    part, sep, off = text.partition(":")
    try:
        return (int(part), int(off)) if sep else (0, int(part))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a dead-letter reference: use PARTITION:OFFSET as `dlq list` shows"
        ) from None


def select(
    letters: list[DeadLetterView],
    refs: list[str],
    origin_topic: str | None,
    everything: bool,
) -> list[DeadLetterView]:
    """The letters an operator chose: by reference, by origin topic, or all of them."""
    chosen = letters
    if refs:
        by_ref = {(letter.partition, letter.offset): letter for letter in letters}
        wanted = [parse_ref(ref) for ref in refs]
        missing = [f"{p}:{o}" for p, o in wanted if (p, o) not in by_ref]
        if missing:
            raise LetterNotFoundError(f"no dead letter at {', '.join(missing)}")
        chosen = [by_ref[ref] for ref in dict.fromkeys(wanted)]
    elif not everything and origin_topic is None:
        raise ValueError("choose dead letters: give references, --origin-topic or --all")
    if origin_topic is not None:
        chosen = [letter for letter in chosen if letter.origin_topic == origin_topic]
    return chosen


def _header_list(
    headers: dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]] | None,
) -> list[tuple[str, str | bytes | None]]:
    """confluent-kafka gives a list; its type also allows a dict."""
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, dict) else list(headers)
