"""Lets tests and scripts run the CLI as ``python -m cpqsync`` without the console script."""

from cpqsync.app.cli.app import main

main()
