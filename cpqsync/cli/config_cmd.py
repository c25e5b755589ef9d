"""``cpqsync config``: validate a settings file before deploying it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from simple_salesforce.exceptions import SalesforceError

from cpqsync.config_check import problems
from cpqsync.reverse_mapping_check import org_problems
from cpqsync.salesforce.auth import SalesforceAuthError
from cpqsync.salesforce.rest import RetryableSalesforceError

app = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)


@app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="The YAML settings file to validate.")],
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Also log in to Salesforce and check reverse_mappings against the org.",
        ),
    ] = False,
) -> None:
    """Load FILE with environment overrides and report every problem with its path."""
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
    typer.echo(f"{path}: OK")
