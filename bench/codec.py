"""Codec throughput beside plain fastavro, on one core, in one run.

Measures encode + decode of a realistic OrderChangeEvent (30 changed fields)
through ``schemas.codec.Codec`` in both wire formats, and through bare
``fastavro.schemaless_writer``/``schemaless_reader`` on the same record (as a
dict, with the same pre-parsed schema). The codec path includes everything a
caller gets: model -> framed bytes -> validated model. Rounds alternate between
the contenders so a noisy neighbour slows them all alike, and each contender's
best round counts (noise only ever slows a round down).
Run: ``python bench/codec.py [--seconds S]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro import schemaless_reader, schemaless_writer

from schemas.catalog import bundled_catalog
from schemas.codec import Codec
from tests.schemas.samples import order_change_event

TOPIC = "cpqsync.sf.order"


def contenders() -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """name -> (encode once, encode+decode once)."""
    event = order_change_event(changed=30)
    record = event.model_dump()
    record["change_type"] = event.change_type.value
    parsed = bundled_catalog().current_for(type(event)).parsed

    def plain_encode() -> bytes:
        out = BytesIO()
        schemaless_writer(out, parsed, record)
        return out.getvalue()

    def plain_round_trip() -> Any:
        return schemaless_reader(BytesIO(plain_encode()), parsed)

    registry = SchemaRegistryClient.new_client({"url": "mock://bench"})
    single, confluent = Codec(), Codec(registry_client=registry)
    assert single.decode(single.encode(event, TOPIC), TOPIC) == event
    assert confluent.decode(confluent.encode(event, TOPIC), TOPIC) == event
    return {
        "plain fastavro": (plain_encode, plain_round_trip),
        "codec single-object": (
            lambda: single.encode(event, TOPIC),
            lambda: single.decode(single.encode(event, TOPIC), TOPIC),
        ),
        "codec confluent": (
            lambda: confluent.encode(event, TOPIC),
            lambda: confluent.decode(confluent.encode(event, TOPIC), TOPIC),
        ),
    }


def rate(fn: Callable[[], Any], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        count += 200
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="total measuring time")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    measured = contenders()
    per_slot = args.seconds / (args.rounds * len(measured) * 2)
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, (encode, round_trip) in measured.items():
            rates.setdefault((name, "encode"), []).append(rate(encode, per_slot))
            rates.setdefault((name, "encode+decode"), []).append(rate(round_trip, per_slot))

    size = {name: len(encode()) for name, (encode, _) in measured.items()}
    print(f"OrderChangeEvent, 30 changed fields; best of {args.rounds} rounds, one core")
    print(f"{'':22}{'bytes':>7}{'encode/s':>12}{'ratio':>7}{'enc+dec/s':>12}{'ratio':>7}")
    base = {op: max(rates[("plain fastavro", op)]) for op in ("encode", "encode+decode")}
    for name in measured:
        enc = max(rates[(name, "encode")])
        both = max(rates[(name, "encode+decode")])
        print(
            f"{name:22}{size[name]:>7}{enc:>12,.0f}{enc / base['encode']:>7.2f}"
            f"{both:>12,.0f}{both / base['encode+decode']:>7.2f}"
        )


if __name__ == "__main__":
    main()
