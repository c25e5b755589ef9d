"""``cpqsync run``, ``replay``, ``status``, ``dlq``: operating cpqsync."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from rich.console import Console

from cpqsync.app.cli.bridge_cmd import parse_since
from cpqsync.app.cli.options import HELP_MARKUP, ConfigOption, require_kafka, settings_from
from cpqsync.app.ops import render
from cpqsync.app.ops.committed_offsets import OffsetChangeError
from cpqsync.app.ops.dead_letter_topic import LetterNotFoundError, read_letters, select
from cpqsync.app.ops.dead_letter_view import DeadLetterView
from cpqsync.app.ops.group_activity import GroupActiveError
from cpqsync.app.ops.partition_bounds import UnknownTopicError, probe_consumer
from cpqsync.app.ops.range_reader import RangeReadTimeout
from cpqsync.app.ops.redrive import redrive
from cpqsync.app.ops.replay import (
    NoTopicsError,
    ReplayTarget,
    ToDatetime,
    ToEarliest,
    ToOffset,
    apply_replay,
    plan_replay,
)
from cpqsync.app.ops.status import gather_status
from cpqsync.app.supervision.role_supervisor import RoleSupervisor, deployment_roles
from cpqsync.kafka.clients import admin_config, producer_config
from cpqsync.kafka.topics import Topics
from cpqsync.settings import Settings

dlq_app = typer.Typer(
    help="Inspect and redrive dead letters.", no_args_is_help=True, rich_markup_mode=HELP_MARKUP
)

# Errors an operator can act on: shown as one line, exit 1, never a traceback.
_OPERATOR_ERRORS = (
    GroupActiveError,
    NoTopicsError,
    UnknownTopicError,
    OffsetChangeError,
    RangeReadTimeout,
    LetterNotFoundError,
    KafkaException,
    ValueError,
)

GroupOption = Annotated[str, typer.Option("--group", "-g", help="Consumer group to reset.")]
TopicOption = Annotated[
    list[str] | None,
    typer.Option(
        "--topic",
        "-t",
        help="Topic to reset (repeat); default: the topics the group committed on, "
        "plus its role's topics for cpqsync-sync and cpqsync-writeback.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
OriginOption = Annotated[
    str | None, typer.Option("--origin-topic", help="Only dead letters from this topic.")
]


def parse_moment(text: str) -> dt.datetime:
    """``2024-05-01`` or an ISO datetime; naive values are UTC (as ``backfill --since``)."""
    try:
        return parse_since(text)
    except typer.BadParameter as exc:
        raise typer.BadParameter(exc.message, param_hint="--to-datetime") from None


def _target(to_datetime: str | None, to_offset: int | None, to_earliest: bool) -> ReplayTarget:
    chosen = [to_datetime is not None, to_offset is not None, to_earliest]
    if sum(chosen) != 1:
        raise typer.BadParameter("give exactly one of --to-datetime, --to-offset, --to-earliest")
    if to_datetime is not None:
        return ToDatetime(parse_moment(to_datetime))
    if to_offset is not None:
        if to_offset < 0:
            raise typer.BadParameter("must be 0 or more", param_hint="--to-offset")
        return ToOffset(to_offset)
    return ToEarliest()


def _bootstrap(settings: Settings, command: str) -> str:
    servers = settings.kafka.bootstrap_servers
    if not servers:
        typer.echo(
            "kafka.bootstrap_servers is not set (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS); "
            "operator commands need the deployment's Kafka cluster",
            err=True,
        )
        raise typer.Exit(code=1)
    require_kafka(settings, servers, command)
    return servers


@contextmanager
def _operator_errors(command: str) -> Iterator[None]:
    try:
        yield
    except _OPERATOR_ERRORS as exc:
        typer.echo(f"cpqsync {command}: {exc}", err=True)
        raise typer.Exit(code=1) from None


def _admin(settings: Settings, bootstrap: str) -> AdminClient:
    return AdminClient(admin_config(bootstrap, settings.kafka.client_config))


def _confirm(question: str, yes: bool, refusal: str) -> None:
    if yes:
        return
    try:
        agreed = typer.confirm(question, default=False)
    except typer.Abort:  # end of input: nobody there to answer
        agreed = False
        typer.echo("")
    if not agreed:
        typer.echo(refusal, err=True)
        raise typer.Exit(code=1)


def run_replay(
    settings: Settings,
    group: str,
    target: ReplayTarget,
    topics: list[str] | None,
    yes: bool,
    console: Console,
) -> None:
    bootstrap = _bootstrap(settings, "replay")
    admin = _admin(settings, bootstrap)
    with _operator_errors("replay"):
        plan = plan_replay(
            bootstrap,
            admin,
            group,
            target,
            Topics.for_kafka(settings.kafka),
            topics,
            extra_config=dict(settings.kafka.client_config),
        )
    console.print(render.replay_table(plan))
    _confirm(
        f"Reset {len(plan.rows)} partition(s) of group {group} ({plan.changes} change)?",
        yes,
        "not reset: confirm interactively or pass --yes",
    )
    with _operator_errors("replay"):
        apply_replay(admin, plan)
    console.print(f"Group {group}: {len(plan.rows)} partition offset(s) set.")


def _letters(settings: Settings, bootstrap: str) -> list[DeadLetterView]:
    return read_letters(
        bootstrap,
        Topics(settings.kafka.topic_prefix).dlq,
        extra_config=dict(settings.kafka.client_config),
    )


def _letter_json(letter: DeadLetterView) -> dict[str, Any]:
    return {
        "ref": letter.ref,
        "origin_topic": letter.origin_topic,
        "origin_partition": letter.origin_partition,
        "origin_offset": letter.origin_offset,
        "group": letter.group,
        "error_class": letter.error_class,
        "error_message": letter.error_message,
        "failed_at": letter.failed_at,
        "attempts": letter.attempts,
        "envelope": letter.envelope,
        "redrive_blocker": letter.redrive_blocker,
    }


def run_redrive(
    settings: Settings,
    refs: list[str],
    origin_topic: str | None,
    everything: bool,
    dry_run: bool,
    console: Console,
) -> int:
    """Exit code: 0 when every chosen letter was sent, 1 otherwise."""
    bootstrap = _bootstrap(settings, "dlq redrive")
    chosen = select(_letters(settings, bootstrap), refs, origin_topic, everything)
    if not chosen:
        console.print("No dead letter matches.")
        return 0
    if dry_run:
        console.print(render.letters_table(chosen))
        console.print(f"Dry run: {len(chosen)} dead letter(s) would be sent back.")
        return 0
    probe = probe_consumer(bootstrap, dict(settings.kafka.client_config))
    try:
        metadata = probe.list_topics(timeout=10).topics
    finally:
        probe.close()
    partitions = {name: len(meta.partitions) for name, meta in metadata.items() if not meta.error}
    outcome = redrive(producer_config(settings.kafka, bootstrap), chosen, partitions)
    console.print(render.redrive_summary(outcome))
    return 0 if not outcome.skipped and not outcome.failed else 1


def _with_settings(config: Any, command: str, body: Callable[[Settings], None]) -> None:
    settings = settings_from(config)
    with _operator_errors(command):
        body(settings)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(config: ConfigOption = None) -> None:
        """Run every role (bridge, sync, writeback; stripe-events when enabled) together.

        Each role is a child process, restarted with backoff when it dies; Ctrl-C
        or SIGTERM stops them together. Role i serves /metrics on metrics.port + i.
        """
        settings = settings_from(config)
        roles = deployment_roles(stripe_events=settings.stripe_events.enabled)
        supervisor = RoleSupervisor(config, dict(os.environ), settings.metrics.port, roles=roles)
        supervisor.run()

    @app.command("replay")
    def replay(
        group: GroupOption,
        config: ConfigOption = None,
        to_datetime: Annotated[
            str | None,
            typer.Option("--to-datetime", help="First record at or after this time (ISO, UTC)."),
        ] = None,
        to_offset: Annotated[
            int | None, typer.Option("--to-offset", help="This offset in every partition.")
        ] = None,
        to_earliest: Annotated[
            bool, typer.Option("--to-earliest", help="The earliest retained record.")
        ] = False,
        topic: TopicOption = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    ) -> None:
        """Reset a stopped consumer group's offsets to a datetime or offset.

        This is how operators backfill from a past start date out of Kafka's
        retention: stop the group, replay, start it again.
        """
        target = _target(to_datetime, to_offset, to_earliest)
        settings = settings_from(config)
        run_replay(settings, group, target, topic, yes, Console())

    @app.command("status")
    def status(
        config: ConfigOption = None,
        group: Annotated[
            list[str] | None,
            typer.Option(
                "--group",
                "-g",
                help="Only these groups (repeat); default: every group "
                "with offsets on this deployment's topics.",
            ),
        ] = None,
        errors: Annotated[int, typer.Option("--errors", min=0, help="Last errors to show.")] = 5,
        as_json: JsonOption = False,
    ) -> None:
        """Show lag, checkpoint age, DLQ depth, live-sync state and last errors."""

        def body(settings: Settings) -> None:
            report = gather_status(settings, _bootstrap(settings, "status"), group, errors)
            if as_json:
                typer.echo(report.model_dump_json(indent=2))
            else:
                Console().print(render.status_view(report))

        _with_settings(config, "status", body)

    @dlq_app.command("list")
    def dlq_list(
        config: ConfigOption = None, origin_topic: OriginOption = None, as_json: JsonOption = False
    ) -> None:
        """List dead letters (reference PARTITION:OFFSET, origin, error)."""

        def body(settings: Settings) -> None:
            letters = _letters(settings, _bootstrap(settings, "dlq list"))
            if origin_topic is not None:
                letters = [x for x in letters if x.origin_topic == origin_topic]
            if as_json:
                typer.echo(json.dumps([_letter_json(x) for x in letters], indent=2))
            else:
                Console().print(render.letters_table(letters))

        _with_settings(config, "dlq list", body)

    @dlq_app.command("show")
    def dlq_show(
        ref: Annotated[str, typer.Argument(help="PARTITION:OFFSET as `dlq list` shows it.")],
        config: ConfigOption = None,
    ) -> None:
        """Show one dead letter: its envelope, key, value and original headers."""

        def body(settings: Settings) -> None:
            letters = _letters(settings, _bootstrap(settings, "dlq show"))
            (letter,) = select(letters, [ref], None, False)
            Console().print(render.letter_detail(letter))

        _with_settings(config, "dlq show", body)

    @dlq_app.command("redrive")
    def dlq_redrive(
        refs: Annotated[
            list[str] | None, typer.Argument(help="PARTITION:OFFSET of each letter to send.")
        ] = None,
        config: ConfigOption = None,
        origin_topic: OriginOption = None,
        everything: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show what would be sent, send nothing.")
        ] = False,
    ) -> None:
        """Send chosen dead letters back to their origin topic, as they first arrived."""
        codes: list[int] = []

        def body(settings: Settings) -> None:
            codes.append(
                run_redrive(settings, refs or [], origin_topic, everything, dry_run, Console())
            )

        _with_settings(config, "dlq redrive", body)
        if codes and codes[0]:
            raise typer.Exit(code=codes[0])

    app.add_typer(dlq_app, name="dlq")
