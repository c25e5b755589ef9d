"""``cpqsync config``: validate a settings file before deploying it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from simple_salesforce.exceptions import SalesforceError

from cpqsync.app.cli.options import HELP_MARKUP, protect_secrets
from cpqsync.app.config_check import problems
from cpqsync.app.preflight import credential_warnings, run_checks
from cpqsync.app.reverse_mapping_check import org_problems
from cpqsync.observability.logging import configure_logging
from cpqsync.salesforce.auth import SalesforceAuthError
from cpqsync.salesforce.rest import RetryableSalesforceError

app = typer.Typer(
    help="Inspect and validate configuration.", no_args_is_help=True, rich_markup_mode=HELP_MARKUP
)


@app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="The YAML settings file to validate.")],
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Also connect: Kafka metadata, one Stripe read with the key, Salesforce "
            "login, a describe of every field the filters and mappings name, and "
            "reverse_mappings against the org.",
        ),
    ] = False,
) -> None:
    """Load the settings file at PATH with environment overrides; report every problem."""
    settings, found = problems(path)
    if connect and settings is not None:
        try:
            found += org_problems(settings)
        except (SalesforceAuthError, SalesforceError, RetryableSalesforceError) as exc:
            found.append(f"salesforce: could not check the org: {exc}")
    if found:
        for problem in found:
            typer.echo(problem, err=True)
        typer.echo(f"{len(found)} problem(s) in {path}", err=True)
        raise typer.Exit(code=1)
    assert settings is not None
    for warning in credential_warnings(settings):
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"{path}: OK")
    if not connect:
        return
    protect_secrets(settings)
    configure_logging("ERROR", settings.logging.json_format)
    results = run_checks(settings)
    for result in results:
        typer.echo(result.line())
    failed = [result for result in results if not result.ok]
    if failed:
        typer.echo(f"{len(failed)} check(s) failed", err=True)
        raise typer.Exit(code=1)
