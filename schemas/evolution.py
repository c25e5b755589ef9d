"""Backward-compatibility check: can the current schemas read what every release wrote?

Avro resolution rules are what fastavro applies when it reads data written with
an older schema, so the check lets fastavro do exactly that on generated data
instead of re-implementing the rules: every released version writes sample
records (random lengths, every union branch and enum symbol in turn over
enough samples) and the current version must read them all back. A failure
names the record, the version and fastavro's reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from io import BytesIO

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.utils import generate_many

from schemas.catalog import SchemaCatalog, SchemaVersion

DEFAULT_SAMPLES = 300


@dataclass(frozen=True)
class Incompatibility:
    record: str
    writer: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.record}: the current schema cannot read data written with {self.writer}: "
            f"{self.reason}. Give new fields a default, keep old enum symbols and union "
            "branches, and widen types only as Avro allows (int->long->float->double)."
        )


def check_backward(
    reader: SchemaVersion,
    writer: SchemaVersion,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> Incompatibility | None:
    """Whether ``reader`` reads ``samples`` records written with ``writer``; None if so."""
    # fastavro's generator draws from the module-level random: seed it for a
    # repeatable verdict and put the caller's random state back afterwards.
    state = random.getstate()
    random.seed(seed)
    try:
        records = list(generate_many(writer.parsed, samples))
    finally:
        random.setstate(state)
    for record in records:
        buffer = BytesIO()
        schemaless_writer(buffer, writer.parsed, record)
        buffer.seek(0)
        try:
            schemaless_reader(buffer, writer.parsed, reader.parsed)
        except SchemaResolutionError as exc:
            return Incompatibility(writer.name, writer.label, f"{type(exc).__name__}: {exc}")
    return None


def check_catalog(catalog: SchemaCatalog, samples: int = DEFAULT_SAMPLES) -> list[Incompatibility]:
    """Every (current schema, released version) pair that fails ``check_backward``."""
    problems = []
    for name in catalog.names:
        current = catalog.current(name)
        for released in catalog.history(name):
            problem = check_backward(current, released, samples)
            if problem is not None:
                problems.append(problem)
    return problems
