"""The idempotency hash input is byte-for-byte what ``json.dumps`` gives.

Keys already sent live on in Stripe's idempotency history; the planner encodes with a reused
C encoder for speed, and this proves it writes the same text as the plain call, for every kind
of value a plan can hold (and the odd ones it should not).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.sync.planning import idempotency
from consumer.sync.planning.idempotency import canonical_json, idempotency_key


def _reference(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_same_text_as_json_dumps(value: Any) -> None:
    assert canonical_json(value) == _reference(value)
    assert canonical_json({"params": value, "target": None}) == _reference(
        {"params": value, "target": None}
    )


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1.5, 1e16, 1e-7, float("inf"), float("-inf")], "é": "ü\n\t\x00\x7f\u2028"},
        {"z": (1, 2), "Z": {"nested": {"b": True, "a": None}}, "": "", "10": 2**70},
        "plain text",
        [],
    ],
)
def test_awkward_values(value: Any) -> None:
    assert canonical_json(value) == _reference(value)


def test_nan_and_unencodable_values_behave_as_json_dumps() -> None:
    assert canonical_json({"x": float("nan")}) == '{"x":NaN}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        canonical_json({"amount": object()})


def test_pure_python_fallback_gives_the_same_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idempotency, "_C_ENCODE", None)
    value = {"b": [1, 2.5, "ü"], "a": {"d": None, "c": True}}
    assert canonical_json(value) == _reference(value)


def _reference_key(record_id: str, kind: str, params: Any, target: Any) -> str:
    """The key as first defined; keys already in Stripe's history were made this way."""
    text = json.dumps(
        {"params": params, "target": target},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return f"cpqsync:{record_id}:{kind}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


targets = st.none() | st.text(max_size=30) | st.fixed_dictionaries({"$ref": st.text(max_size=20)})


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5), targets)
def test_keys_are_the_original_formula(params: dict[str, Any], target: Any) -> None:
    assert idempotency_key("801000000000001AAA", "price.create", params, target) == (
        _reference_key("801000000000001AAA", "price.create", params, target)
    )
