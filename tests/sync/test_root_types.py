"""Every object type whose records are sync roots has a row in the root-type registry."""

from __future__ import annotations

import pytest

from consumer.sync.root_types import REGISTRY, root_type
from consumer.sync.triggers import ROOT_TYPES


def test_every_root_object_type_has_a_row() -> None:
    assert set(REGISTRY) == set(ROOT_TYPES)
    assert all(REGISTRY[name].object_type == name for name in REGISTRY)


def test_a_child_object_is_not_a_root() -> None:
    with pytest.raises(ValueError, match="OrderItem records are not sync roots"):
        root_type("OrderItem")
