"""``cpqsync config``: validate a settings file before deploying it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpqsync.config_check import problems

app = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)


@app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="The YAML settings file to validate.")],
) -> None:
    """Load FILE with environment overrides and report every problem with its path."""
    settings, found = problems(path)
    if found:
        for problem in found:
            typer.echo(problem, err=True)
        typer.echo(f"{len(found)} problem(s) in {path}", err=True)
        raise typer.Exit(code=1)
    assert settings is not None
    typer.echo(f"{path}: OK")
