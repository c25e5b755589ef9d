"""Rich tables for the operator commands; the data comes from the other ops modules."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cpqsync.app.ops.dead_letter_view import DeadLetterView
from cpqsync.app.ops.redrive import RedriveOutcome
from cpqsync.app.ops.replay import ReplayPlan
from cpqsync.app.ops.status_report import StatusReport

_PREVIEW = 60


def replay_table(plan: ReplayPlan) -> Table:
    table = Table(title=f"Replay of group {plan.group} to {plan.target.describe()}")
    for column in ("topic", "partition", "old", "", "new", "note"):
        table.add_column(
            column, justify="right" if column in {"partition", "old", "new"} else "left"
        )
    for row in plan.rows:
        old = "-" if row.old is None else str(row.old)
        table.add_row(row.topic, str(row.partition), old, "→", str(row.new), row.note)
    return table


def status_view(report: StatusReport) -> RenderableType:
    parts: list[RenderableType] = []
    lag = Table(title="Consumer groups")
    for column in ("group", "state", "topic", "partition", "committed", "end", "lag"):
        lag.add_column(column)
    for group in report.groups:
        for row in group.partitions:
            committed = "-" if row.committed is None else str(row.committed)
            lag.add_row(
                group.group,
                group.state,
                row.topic,
                str(row.partition),
                committed,
                str(row.end),
                str(row.lag),
            )
        if not group.partitions:
            lag.add_row(group.group, group.state, "(no committed offsets)", "", "", "", "")
    if not report.groups:
        lag.add_row("(no group has committed on these topics)", "", "", "", "", "", "")
    parts.append(lag)
    checkpoints = Table(title="Bridge checkpoints")
    for column in ("channel", "replay id", "current (s ago)", "written (s ago)"):
        checkpoints.add_column(column)
    for cp in report.checkpoints:
        age = "-" if cp.position_age_s is None else f"{cp.position_age_s:.1f}"
        checkpoints.add_row(cp.channel, cp.replay_id, age, f"{cp.written_age_s:.1f}")
    if not report.checkpoints:
        checkpoints.add_row("(no checkpoint written yet)", "", "", "")
    parts.append(checkpoints)
    dlq = report.dlq
    depth = f"{dlq.depth} dead letter(s) on {dlq.topic}" if dlq.exists else f"{dlq.topic} missing"
    parts.append(Text(f"DLQ depth: {depth}"))
    live = report.live_sync
    parts.append(
        Text(
            f"Live sync: {live.runtime} (configured: {'on' if live.configured else 'off'}; "
            f"{live.source})"
        )
    )
    errors = Table(title="Last errors")
    for column in ("attempted at", "record", "message"):
        errors.add_column(column)
    for error in report.last_errors:
        errors.add_row(
            error.attempted_at.isoformat(timespec="seconds"),
            f"{error.primary_object_type} {error.primary_record_id}",
            error.message,
        )
    if not report.last_errors:
        errors.add_row("(none in the recent results)", "", "")
    parts.append(errors)
    return Group(*parts)


def letters_table(letters: list[DeadLetterView]) -> Table:
    table = Table(title=f"{len(letters)} dead letter(s)")
    for column in ("ref", "origin", "failed at", "attempts", "error"):
        table.add_column(column)
    for letter in letters:
        origin = letter.origin_topic or "?"
        if letter.origin_partition is not None and letter.origin_offset is not None:
            origin += f"[{letter.origin_partition}]@{letter.origin_offset}"
        table.add_row(
            letter.ref,
            origin,
            letter.failed_at or "?",
            "?" if letter.attempts is None else str(letter.attempts),
            f"{letter.error_class}: {_clip(letter.error_message)}",
        )
    return table


def letter_detail(letter: DeadLetterView) -> Table:
    table = Table(title=f"Dead letter {letter.ref}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    rows = [
        ("origin topic", letter.origin_topic or "?"),
        ("origin partition", _opt(letter.origin_partition)),
        ("origin offset", _opt(letter.origin_offset)),
        ("consumer group", letter.group or "?"),
        ("error class", letter.error_class),
        ("error message", letter.error_message),
        ("first failed at", letter.failed_at or "?"),
        ("attempts", _opt(letter.attempts)),
        ("envelope", letter.envelope),
        ("key", _bytes(letter.key)),
        ("value", _bytes(letter.value)),
        ("redrive", letter.redrive_blocker or "possible"),
    ]
    rows += [(f"header {name}", _bytes(value)) for name, value in letter.original_headers]
    for name, value in rows:
        table.add_row(name, value)
    return table


def redrive_summary(outcome: RedriveOutcome) -> Table:
    table = Table(title=f"Redrive: {len(outcome.sent)} sent")
    for column in ("ref", "result", "detail"):
        table.add_column(column)
    for letter in outcome.sent:
        table.add_row(letter.ref, "sent", f"to {letter.origin_topic}")
    for letter, why in outcome.skipped:
        table.add_row(letter.ref, "skipped", why)
    for letter, why in outcome.failed:
        table.add_row(letter.ref, "failed", why)
    return table


def _clip(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def _opt(value: int | None) -> str:
    return "?" if value is None else str(value)


def _bytes(value: bytes | None) -> str:
    if value is None:
        return "(null)"
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return f"{len(value)} bytes: {value[:48].hex()}{'…' if len(value) > 48 else ''}"
    return text if text.isprintable() else f"{len(value)} bytes: {value[:48].hex()}"
