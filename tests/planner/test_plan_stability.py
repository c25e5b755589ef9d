"""Plans and idempotency keys of every golden scenario, pinned byte for byte.

Idempotency keys are persisted in Stripe's idempotency history: if a refactor (say, a faster
canonical encoding) changed a key, a replayed event would send a new key and create a duplicate
object. The golden scenarios only check the parts of a plan they name, so this pins the rest:
each scenario's exact keys and a hash of its whole plan as canonical JSON.

A deliberate behaviour change regenerates the file (``python -m tests.planner.test_plan_stability``)
and must say in its commit why the keys may change.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.sync.planning import Plan
from tests.planner.scenario_loader import plan_scenario, scenario_paths

GOLDEN = Path(__file__).with_name("plan_fingerprints.json")


def _plan(path: Path) -> Plan | None:
    scenario = yaml.safe_load(path.read_text())
    if "config_error" in scenario["expect"]:
        return None
    return plan_scenario(scenario)


def fingerprint(plan: Plan) -> dict[str, Any]:
    canonical = json.dumps(plan.to_dict(), sort_keys=True, separators=(",", ":"))
    return {
        "keys": [op.idempotency_key for op in plan.operations],
        "plan_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
    }


def _planned_paths() -> list[Path]:
    return [path for path in scenario_paths() if _plan(path) is not None]


@pytest.mark.parametrize("path", _planned_paths(), ids=lambda p: p.stem)
def test_plan_and_keys_are_unchanged(path: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    plan = _plan(path)
    assert plan is not None
    found = fingerprint(plan)
    expected = golden[path.stem]
    # Keys first: a changed key is the costly difference (duplicates on replay).
    assert found["keys"] == expected["keys"]
    assert found["plan_sha256"] == expected["plan_sha256"]


def test_every_planned_scenario_is_pinned() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert sorted(golden) == sorted(path.stem for path in _planned_paths())


def _write() -> None:
    out = {}
    for path in _planned_paths():
        plan = _plan(path)
        assert plan is not None
        out[path.stem] = fingerprint(plan)
    GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    _write()
