"""Datasets shipped with cpqsync for the org simulator (``cpqsync sandbox org --dataset``)."""

from __future__ import annotations

from pathlib import Path

DATASET_DIR = Path(__file__).parent


def default_dataset() -> Path:
    """The realistic CPQ dataset tests and ``cpqsync demo`` use."""
    return DATASET_DIR / "cpq_demo.yaml"
