"""Compares a plan with a scenario's `expect:` block, naming the first difference."""

from __future__ import annotations

from typing import Any

from consumer.sync.planning import Plan


def subset_problems(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` does not contain ``expected`` (dicts: listed keys; lists: same length)."""
    where = path or "(root)"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        out = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing (actual keys {sorted(actual)})")
            else:
                out.extend(subset_problems(value, actual[key], f"{path}.{key}"))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {len(expected)} items, got {actual!r}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(subset_problems(e, a, f"{path}[{i}]"))
        return out
    if expected != actual:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


def _lookup(data: Any, dotted: str) -> Any:
    current = data
    for part in dotted.split("."):
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return _ABSENT
    return current


_ABSENT = object()


def plan_problems(expect: dict[str, Any], plan: Plan) -> list[str]:
    data = plan.to_dict()
    out: list[str] = []
    if "waits" in expect and expect["waits"] != data.get("waits", []):
        out.append(f"waits: expected {expect['waits']}, got {data.get('waits', [])}")
    if "status" in expect and expect["status"] != plan.status:
        out.append(f"status: expected {expect['status']}, got {plan.status}: {data['errors']}")
    for section in ("errors", "skips"):
        if section in expect:
            out.extend(subset_problems(expect[section], data[section], section))
    if "operations" in expect:
        expected_ops = expect["operations"]
        kinds = [op["kind"] for op in data["operations"]]
        if [op["kind"] for op in expected_ops] != kinds:
            out.append(f"operations: expected {[op['kind'] for op in expected_ops]}, got {kinds}")
        else:
            for i, (e, a) in enumerate(zip(expected_ops, data["operations"], strict=True)):
                e = dict(e)
                for dotted in e.pop("absent", []):
                    if _lookup(a["params"], dotted) is not _ABSENT:
                        out.append(f"operations[{i}].params.{dotted}: expected absent")
                for dotted, value in e.pop("exactly", {}).items():
                    # Whole values, not subsets: metadata must hold these keys and no others.
                    found = _lookup(a["params"], dotted)
                    if found != value:
                        shown = "absent" if found is _ABSENT else repr(found)
                        where = f"operations[{i}].params.{dotted}"
                        out.append(f"{where}: expected {value!r}, got {shown}")
                out.extend(subset_problems(e, a, f"operations[{i}]"))
    return out
