"""Codecs for both wire formats, and helpers to build messages by hand."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from schemas.codec import Codec

WIRE_FORMATS = ("single-object", "confluent")


def make_codec(wire_format: str) -> tuple[Codec, SchemaRegistryClient | None]:
    if wire_format == "single-object":
        return Codec(), None
    client = SchemaRegistryClient.new_client({"url": "mock://schemas-tests"})
    return Codec(registry_client=client), client


@pytest.fixture(params=WIRE_FORMATS)
def codec(request: pytest.FixtureRequest) -> Codec:
    return make_codec(request.param)[0]
