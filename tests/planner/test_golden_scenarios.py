"""Golden scenarios: Salesforce records and configuration in, the expected plan or error out.

Each YAML file under tests/scenarios states the rules it exercises; together they must cover
every core rule of spec/cpq-to-stripe.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from cpqsync.mapping import stripe_validation
from cpqsync.mapping.stripe_schema import ENDPOINT_PARAMS
from tests.planner.expectations import plan_problems
from tests.planner.scenario_loader import build_settings, plan_scenario, scenario_paths

CORE_RULES = {
    *(f"M{i}" for i in range(1, 6)),
    *(f"S{i}" for i in range(2, 6)),
    "C1",
    *(f"P{i}" for i in range(1, 10)),
    *(f"O{i}" for i in range(1, 7)),
    "K1",
    "K2",
    "R4",
}


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", scenario_paths(), ids=lambda p: p.stem)
def test_scenario(path: Path) -> None:
    scenario = _load(path)
    expect = scenario["expect"]
    if "config_error" in expect:
        with pytest.raises(ValidationError) as caught:
            build_settings(scenario)
        rendered = "\n".join(
            ".".join(str(p) for p in err["loc"]) + ": " + err["msg"]
            for err in caught.value.errors()
        )
        assert expect["config_error"] in rendered
        return
    plan = plan_scenario(scenario)
    problems = plan_problems(expect, plan)
    assert not problems, "\n".join(problems)
    for op in plan.operations:
        found = stripe_validation.problems(ENDPOINT_PARAMS[op.kind], op.params)
        assert not found, f"{op.id}: {found}"


def test_scenarios_cover_every_core_rule() -> None:
    covered = {rule for path in scenario_paths() for rule in _load(path)["rules"]}
    assert CORE_RULES - covered == set()
    assert len(scenario_paths()) >= 40
