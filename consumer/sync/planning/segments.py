"""Multi-dimensional quoting (MDQ) segments (rule A6): one phase per segment.

CPQ sells an MDQ product as one order line per segment (``SBQQ__SegmentIndex__c`` 1, 2, 3 …,
``SBQQ__SegmentKey__c`` shared by a product's segments, ``SBQQ__SegmentLabel__c`` "Year 1"),
each with that segment's quantity and price (its ``UnitPrice`` covers the segment, not the
term), and the segment type in ``SBQQ__DimensionType__c``: Year, Quarter or Month segments run
12, 3 or 1 months from the quote's start (the last one ends with the term, so a 30-month term
in Years ends with a 6-month segment), Custom segments run from the line's ``ServiceDate`` to its
``EndDate`` (inclusive, so the next day at midnight UTC).

Each segment index becomes one schedule phase, from the segment's start to its end, billing the
segment lines of that index at a per-period price computed over the segment's months (P5), and
every plain (unsegmented) line of the order at its whole-term price. Later phases use
``proration_behavior = none``: a segment boundary is a billing date (a segment that is not a
whole number of billing periods is the O7 Data Error). One-time lines are billed with the first
phase. Segments must follow one another without gaps and end with the term. An amended MDQ
contract is derived by the contract planner (``contracts.py``): each amendment line changes one
segment's line, and the contract's phases are cut at the segment boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.schedule_dates import add_months
from consumer.sync.planning.views import OrderItemView
from cpqsync.mapping.coercion import CoercionError, epoch_seconds, to_decimal

_DAY = 86_400
SEGMENT_MONTHS = {"Year": 12, "Quarter": 3, "Month": 1}
CUSTOM = "Custom"


def is_segmented(item: OrderItemView) -> bool:
    return item.segmented


@dataclass
class Segment:
    """One segment index: when it runs, its length in months and the lines it holds."""

    index: int
    start: int
    end: int
    months: int
    line_ids: list[str] = field(default_factory=list)


def segments_of(
    lines: Sequence[OrderItemView], *, start: int | None, end: int | None
) -> dict[int, Segment]:
    """The order's segments by index (empty when no line is segmented); Data Errors for shapes
    that cannot be billed as phases."""
    segmented = [line for line in lines if is_segmented(line)]
    if not segmented:
        return {}
    if start is None:
        return {}  # the order's own M2 error says what is missing
    if end is None:
        raise DataError(
            "A6",
            "Segmented (MDQ) lines need the quote's term as the schedule's end; a mapped phase "
            "duration cannot be split into segments",
        )
    out: dict[int, Segment] = {}
    for line in segmented:
        line_id = line.id
        index = _index(line)
        begins, ends = _bounds(line, index, start, end)
        segment = out.get(index)
        if segment is None:
            segment = out[index] = Segment(index, begins, ends, _months(line_id, begins, ends))
        elif (segment.start, segment.end) != (begins, ends):
            raise DataError(
                "A6",
                f"OrderItem {line_id} is segment {index} but its dates differ from the other "
                f"lines of segment {index} (OrderItems {', '.join(segment.line_ids)})",
            )
        segment.line_ids.append(line_id)
    _check_contiguous(out, start, end)
    return dict(sorted(out.items()))


def added_segments(
    lines: Sequence[OrderItemView], *, contract_start: int, end: int, begins: int
) -> dict[str, Segment]:
    """A6: the segments of MDQ products an amendment adds (segmented lines revising nothing),
    by line id. CPQ's amendment quote shows a new MDQ product's segments from the one running
    on the amendment's start (``begins``) to the contract's end, on the contract's segment
    timeline: Year, Quarter and Month segments count from the contract's start (index 1 is the
    contract's first year; the first line's service period starts with the amendment), Custom
    ones run on their lines' dates, and so do segments whose lines' service periods are not on
    the contract's timeline (an org whose amendment quotes count segments from the
    amendment's start). Each must be whole months (P5 prices it over them). A product's segments
    (lines sharing ``SBQQ__SegmentKey__c``) must follow one another from the one running on
    ``begins`` to the contract's end."""
    by_key: dict[str, dict[int, Segment]] = {}
    out: dict[str, Segment] = {}
    for line in lines:
        line_id = line.id
        index = _index(line)
        segments = by_key.setdefault(line.segment_key, {})
        if index in segments:
            raise DataError(
                "A6",
                f"OrderItem {line_id} is segment {index} of a new MDQ product, like OrderItems "
                f"{', '.join(segments[index].line_ids)} (one line per segment)",
            )
        first, last = _bounds(line, index, contract_start, end)
        dated = _service_period(line)
        on_timeline = dated is None or (
            dated[1] == last and (dated[0] == first or first < dated[0] == begins)
        )
        if dated is not None and not on_timeline:
            # Not on the contract's timeline: the amendment quote counted the product's
            # segments from its own start; its lines' service periods are the segments.
            first, last = dated
        segment = Segment(index, first, last, _months(line_id, first, last), [line_id])
        segments[index] = out[line_id] = segment
    for segments in by_key.values():
        ordered = [segments[i] for i in sorted(segments)]
        lead = ordered[0]
        if not lead.start <= begins < lead.end:
            raise DataError(
                "A6",
                f"OrderItem {lead.line_ids[0]} is segment {lead.index} of a new MDQ product but "
                "is not the segment running on the amendment's start; a new MDQ product's "
                "segments start with the one running then",
            )
        expected = lead.start
        for segment in ordered:
            if segment.start != expected:
                raise DataError(
                    "A6",
                    f"OrderItem {segment.line_ids[0]} is segment {segment.index} of a new MDQ "
                    "product but does not start where its previous segment ends; segments "
                    "must follow one another without gaps",
                )
            expected = segment.end
        if expected != end:
            named = ", ".join(s.line_ids[0] for s in ordered)
            raise DataError(
                "A6",
                f"The segments of a new MDQ product (OrderItems {named}) end before or after "
                "the contract; an amendment's MDQ product needs a line for every segment from "
                "the amendment's start to the contract's end",
            )
    return out


def segment_phases(
    phase_params: Mapping[str, Any], segments: list[tuple[Segment, list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """The order's phases, one per segment: the plain lines' items (``phase_params``) in every
    phase beside the segment's own items; one-time lines with the first phase."""
    plain = list(phase_params.get("items") or [])
    lead = {
        k: v
        for k, v in phase_params.items()
        if k not in ("end_date", "duration", "items", "add_invoice_items")
    }
    phases: list[dict[str, Any]] = []
    for number, (segment, items) in enumerate(segments):
        if number == 0:
            params = dict(lead)
            if phase_params.get("add_invoice_items"):
                params["add_invoice_items"] = phase_params["add_invoice_items"]
        else:
            params = {"proration_behavior": "none", "metadata": phase_params.get("metadata")}
            if phase_params.get("discounts"):
                params["discounts"] = phase_params["discounts"]  # A5: every phase
        params["items"] = [*plain, *items]
        params["end_date"] = segment.end
        phases.append(params)
    return phases


def _index(line: OrderItemView) -> int:
    raw = line.field("SBQQ__SegmentIndex__c")
    try:
        value = to_decimal(raw) if raw not in (None, "") else None
    except CoercionError:
        value = None
    if value is None or value < 1 or value != value.to_integral_value():
        raise DataError(
            "A6",
            f"OrderItem {line.id} is a segmented (MDQ) line without a valid "
            f"SBQQ__SegmentIndex__c (found {raw!r})",
        )
    return int(value)


def _bounds(line: OrderItemView, index: int, start: int, end: int) -> tuple[int, int]:
    kind = line.field("SBQQ__DimensionType__c")
    months = SEGMENT_MONTHS.get(str(kind))
    if months is not None:
        return add_months(start, (index - 1) * months), min(add_months(start, index * months), end)
    if kind != CUSTOM:
        raise DataError(
            "A6",
            f"OrderItem {line.id} has segment type {kind!r}; segments of type Year, Quarter, "
            "Month or Custom can be billed as phases",
        )
    dated = _service_period(line)
    if dated is None:
        missing = [
            f"OrderItem[{line.id}].{name}"
            for name in ("ServiceDate", "EndDate")
            if not line.field(name)
        ]
        raise DataError("M2", f"The following required fields are missing: {', '.join(missing)}")
    return dated


def _service_period(line: OrderItemView) -> tuple[int, int] | None:
    """The line's ``ServiceDate`` to its ``EndDate`` (inclusive), when it has both."""
    begins, ends = line.field("ServiceDate"), line.field("EndDate")
    if not (begins and ends):
        return None
    try:
        return epoch_seconds(begins), epoch_seconds(ends) + _DAY
    except CoercionError as exc:
        raise DataError("A6", f"OrderItem {line.id}: {exc}") from None


def _months(line_id: str, begins: int, ends: int) -> int:
    """Whole calendar months from ``begins`` to ``ends`` (what P5 divides the price over)."""
    for months in range(1, 1201):
        boundary = add_months(begins, months)
        if boundary == ends:
            return months
        if boundary > ends:
            break
    raise DataError(
        "A6",
        f"Segment of OrderItem {line_id} is not a whole number of months; Stripe bills a "
        "segment as a phase of whole billing periods",
    )


def _check_contiguous(segments: dict[int, Segment], start: int, end: int) -> None:
    expected = start
    for index in sorted(segments):
        segment = segments[index]
        if segment.start != expected or segment.end <= segment.start:
            raise DataError(
                "A6",
                f"Segment {index} (OrderItems {', '.join(segment.line_ids)}) must start where "
                "the previous segment (or the quote) starts; segments must follow one another "
                "without gaps",
            )
        expected = segment.end
    if expected != end:
        raise DataError(
            "A6",
            f"The last segment ends before or after the quote's term; segments must cover "
            f"the term exactly (segments: {', '.join(str(i) for i in sorted(segments))})",
        )
