"""Test helpers shared across suites (fixtures live in conftest.py)."""
