"""Lets tests and scripts run the CLI as ``python -m cpqsync`` without the console script."""

from cpqsync.cli.app import main

main()
