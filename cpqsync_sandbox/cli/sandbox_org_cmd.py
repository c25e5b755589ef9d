"""``cpqsync sandbox org``: the Salesforce org simulator (REST + Pub/Sub gRPC, HTTPS/TLS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cpqsync_sandbox.cli.sandbox_cmd import app, wait_for_signal
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.dataset import DatasetError
from cpqsync_sandbox.org.simulator import OrgSimulator


@app.command("org")
def org(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTPS REST port; 0 picks a free one.")] = 0,
    grpc_port: Annotated[int, typer.Option(help="Pub/Sub gRPC port; 0 picks a free one.")] = 0,
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="YAML/JSON dataset to seed the org with (default: the shipped CPQ dataset).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    empty: Annotated[bool, typer.Option("--empty", help="Start with no dataset at all.")] = False,
    orders: Annotated[
        int, typer.Option(min=0, help="Generate this many extra valid draft orders.")
    ] = 0,
    grpc_plaintext: Annotated[
        bool, typer.Option("--grpc-plaintext", help="Serve gRPC without TLS (debugging only).")
    ] = False,
) -> None:
    """Serve the Salesforce org simulator over an in-memory CPQ org until interrupted.

    Prints one JSON line when ready: rest_url, grpc_target, username, password, client_id,
    client_secret, org_id, ca_cert (and login_url, private_key_file for JWT bearer).
    """
    if empty and (dataset is not None or orders):
        raise typer.BadParameter("--empty cannot be combined with --dataset or --orders")
    chosen = None if empty else (dataset or default_dataset())
    simulator = OrgSimulator(
        host=host,
        rest_port=port,
        grpc_port=grpc_port,
        dataset=chosen,
        grpc_plaintext=grpc_plaintext,
        generated_orders=orders,
    )
    try:
        simulator.start()
    except DatasetError as exc:
        typer.echo(f"cpqsync sandbox org: dataset error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    try:
        typer.echo(json.dumps(simulator.ready_line()), nl=True)
        wait_for_signal()
    finally:
        simulator.stop()
