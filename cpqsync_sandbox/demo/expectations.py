"""What the dataset says each order must end as.

The org simulator runs in another process and knows record ids; the dataset
file knows which orders are deliberately bad (``_expected_error``, text the
connector's message must contain). Orders are matched by ``Name``, which the
shipped dataset keeps unique; every other Draft order (including the ones
``--orders N`` generates) must sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpqsync_sandbox.org.dataset import read_dataset


class DatasetExpectationError(ValueError):
    """The dataset cannot say what an order should end as (ambiguous names)."""


@dataclass(frozen=True)
class OrderExpectation:
    order_id: str
    name: str
    # None: must end as Success with a Stripe id; else text the Error message must contain.
    expected_error: str | None
    # An amendment order: the id of its contract's initial order, whose schedule it must name.
    amends: str | None = None
    # A renewal order: the id of the renewed contract's initial order, whose schedule it must
    # NOT name: a renewal starts a schedule of its own (A3).
    renews: str | None = None

    @property
    def follows(self) -> str | None:
        """The initial order of the contract this order amends or renews (None: its own)."""
        return self.amends or self.renews

    @property
    def should_fail(self) -> bool:
        return self.expected_error is not None


def expected_errors_by_name(dataset: Path) -> dict[str, str]:
    """Order Name -> the error text the dataset documents for it."""
    data = read_dataset(dataset)
    orders: Any = data["records"].get("Order") or []
    found: dict[str, str] = {}
    for record in orders:
        if not isinstance(record, dict) or "_expected_error" not in record:
            continue
        name = str(record.get("Name", ""))
        if not name:
            raise DatasetExpectationError(
                f"{dataset}: an order with _expected_error has no Name to recognise it by"
            )
        if name in found:
            raise DatasetExpectationError(f"{dataset}: two bad orders are named {name!r}")
        found[name] = str(record["_expected_error"])
    return found


def expectations_for(
    draft_orders: Iterable[Mapping[str, Any]], errors_by_name: Mapping[str, str]
) -> list[OrderExpectation]:
    """One expectation per Draft order the org holds (``Id`` and ``Name`` of each)."""
    return [
        OrderExpectation(
            order_id=str(order["Id"]),
            name=str(order["Name"]),
            expected_error=errors_by_name.get(str(order["Name"])),
        )
        for order in draft_orders
    ]
