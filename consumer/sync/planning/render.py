"""A plan as text for people: what `cpqsync plan ORDER_ID` prints before anything is sent."""

from __future__ import annotations

import json
from typing import Any

from consumer.sync.planning.plan import Plan, is_ref


def _value(value: Any) -> str:
    if is_ref(value):
        return f"<{value['$ref']}>"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _lines(params: Any, indent: str) -> list[str]:
    out: list[str] = []
    if isinstance(params, dict) and not is_ref(params):
        for key in sorted(params):
            value = params[key]
            if isinstance(value, dict | list) and value and not is_ref(value):
                out.append(f"{indent}{key}:")
                out.extend(_lines(value, indent + "  "))
            else:
                out.append(f"{indent}{key}: {_value(value)}")
    elif isinstance(params, list):
        for item in params:
            nested = _lines(item, indent + "  ")
            if nested and isinstance(item, dict) and not is_ref(item):
                out.append(f"{indent}- {nested[0].strip()}")
                out.extend(nested[1:])
            else:
                out.append(f"{indent}- {_value(item)}")
    return out


def render(plan: Plan) -> str:
    """Operations numbered in the order they run, then skips and errors with their rules."""
    out = [f"Plan for {plan.root}: {plan.status}, {len(plan.operations)} operation(s)"]
    for number, op in enumerate(plan.operations, start=1):
        target = f" {_value(op.target)}" if op.target is not None else ""
        out.append(f"{number:>3}. {op.kind}{target}  [{op.id}]  from {op.source}")
        for wb in op.writeback:
            out.append(f"       writes {wb.attribute} to {wb.record.object_type}.{wb.field}")
        out.extend(_lines(op.params, "       "))
    for skip in plan.skips:
        quiet = "" if skip.reported else " (not reported)"
        out.append(f"  skip [{skip.rule}] {skip.record}: {skip.message}{quiet}")
    for error in plan.errors:
        out.append(f"  error [{error.rule}] {error.record}: {error.message}")
    return "\n".join(out)
