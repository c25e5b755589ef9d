"""Logging set-up with secret redaction.

Secrets must never reach logs, so redaction happens in a filter on the root
handler rather than at each call site: every configured secret value is
replaced, and anything shaped like a Stripe key or a bearer token is masked
even when it was never configured (a key pasted into a URL, a token echoed in
an error body).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import warnings
from collections.abc import Iterable
from typing import TextIO

from pydantic import SecretStr

# Each pattern's group "keep" (if any) is left in place before the mask.
_PATTERNS = [
    re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+"),
    re.compile(r"(?i)(?P<keep>bearer\s+)[A-Za-z0-9._~+/=!-]+"),
    re.compile(r"(?i)(?P<keep>access_?token[\"'=:\s]+)[A-Za-z0-9._~+/=!-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
]
_lock = threading.Lock()
_secrets: set[str] = set()
# The stripe library logs one INFO line per request and one per response.
CHATTY_LIBRARIES = ("stripe",)


def register_secrets(values: Iterable[SecretStr | str | None]) -> None:
    """Remember secret values so that any log line containing them is masked."""
    with _lock:
        for value in values:
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if raw and len(raw) >= 6:
                _secrets.add(raw)


def redact(text: str) -> str:
    """``text`` with every known secret and secret-shaped token masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "[REDACTED]")
    for pattern in _PATTERNS:
        text = pattern.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep") or ""
    return f"{keep}[REDACTED]"


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the handler never sees raw text.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload)


class _CurrentStderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time, not at set-up time.

    A handler bound to the stderr of the moment keeps writing to it after it is
    swapped and closed (a CLI invoked in-process by a test runner), and every
    later log line from a background thread then fails with a logging error.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """The stream is always the current stderr; assignments are ignored."""


class LineFormatter(logging.Formatter):
    """Text lines; a warning (or less) is one line whatever its message holds.

    A multi-line message is joined with `` | `` and a traceback attached to a warning
    is shortened to its last line (the exception); errors keep their full traceback.
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno > logging.WARNING:
            return super().format(record)
        saved = record.exc_text
        if saved:
            record.exc_text = saved.strip().splitlines()[-1]
        try:
            text = super().format(record)
        finally:
            record.exc_text = saved
        return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    return f"{category.__name__}: {message} ({filename}:{lineno})"


def configure_logging(level: str = "INFO", json_format: bool = False) -> None:
    handler = _CurrentStderrHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if json_format
        else LineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    # Python warnings (a library's DeprecationWarning, urllib3's) become one log line each.
    warnings.formatwarning = _one_line_warning
    logging.captureWarnings(True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log every request at INFO speak only at DEBUG (our own request
    # counters and errors say what an operator needs).
    chatty_level = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(chatty_level)
