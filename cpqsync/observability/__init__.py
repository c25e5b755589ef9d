"""Logging and metrics plumbing shared by every process."""
