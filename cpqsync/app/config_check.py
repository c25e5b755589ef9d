"""Turns a settings file into a list of human-readable problems, each naming its path.

Kept apart from the settings model so that the model stays declarative and the
CLI, the demo and tests can all report problems the same way. Input values are
echoed to help the user, except under any path that can hold a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cpqsync.app.preflight.credentials import credential_problems
from cpqsync.settings import Settings, load_settings

_SECRET_WORDS = ("secret", "password", "key", "token")


def _is_secret_path(path: str) -> bool:
    return any(word in path.lower() for word in _SECRET_WORDS)


def _format_error(error: dict[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "(root)"
    message = str(error["msg"])
    if error.get("type") == "extra_forbidden":
        return f"{path}: unknown setting"
    value = error.get("input")
    if _is_secret_path(path) or isinstance(value, dict | list) or value is None:
        return f"{path}: {message}"
    return f"{path}: {message} (got {value!r})"


def problems(path: Path) -> tuple[Settings | None, list[str]]:
    """Load ``path``; return the settings (if valid) and every problem found."""
    if not path.exists():
        return None, [f"{path}: file not found"]
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return None, [f"{path}: not valid YAML: {exc}"]
    if raw is not None and not isinstance(raw, dict):
        return None, [f"{path}: the top level must be a mapping of sections"]
    try:
        settings = load_settings(path)
    except ValidationError as exc:
        return None, list(_format_all(exc.errors()))
    # Well-formed is not enough: a role also needs its credentials present and usable.
    return settings, credential_problems(settings)


def _format_all(errors: Iterable[Any]) -> Iterable[str]:
    for error in errors:
        yield _format_error(dict(error))
