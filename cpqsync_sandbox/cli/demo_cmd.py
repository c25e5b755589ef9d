"""``cpqsync demo``: the whole local stack, orders activated, the sync shown live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpqsync.observability.logging import configure_logging
from cpqsync_sandbox.demo.progress_view import demo_console
from cpqsync_sandbox.demo.run_demo import DemoOptions, run_demo


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        orders: Annotated[
            int, typer.Option("--orders", min=0, help="Generate this many extra valid orders.")
        ] = 0,
        dataset: Annotated[
            Path | None,
            typer.Option(
                "--dataset",
                exists=True,
                dir_okay=False,
                help="Org dataset (default: the shipped CPQ dataset).",
            ),
        ] = None,
        waves: Annotated[
            int, typer.Option("--waves", min=1, help="Activate the orders in this many waves.")
        ] = 4,
        wave_interval: Annotated[
            float, typer.Option("--wave-interval", min=0, help="Seconds between waves.")
        ] = 2.0,
        timeout: Annotated[
            float | None,
            typer.Option(
                "--timeout",
                min=1,
                help="Seconds after the first activation for every order to sync "
                "[default: 120 + 1 per --orders].",
                show_default=False,
            ),
        ] = None,
        keep_running: Annotated[
            bool,
            typer.Option("--keep-running", help="Leave the stack up (metrics URLs) until Ctrl-C."),
        ] = False,
        report_dir: Annotated[
            Path | None,
            typer.Option(
                "--report-dir",
                file_okay=False,
                help="Where the report and logs go (default ./reports/demo-<time>).",
            ),
        ] = None,
    ) -> None:
        """Start the whole local stack, activate orders and show the sync live.

        Exit 0 when every order ended as the dataset expects, 1 when some did
        not, 3 on timeout, 4 when the stack failed, 130 when interrupted.
        """
        configure_logging("WARNING")
        options = DemoOptions(
            orders=orders,
            dataset=dataset,
            waves=waves,
            wave_interval_s=wave_interval,
            timeout_s=timeout,
            keep_running=keep_running,
            report_dir=report_dir,
        )
        raise typer.Exit(code=run_demo(options, demo_console()))
