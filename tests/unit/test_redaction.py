"""Secrets never reach log output, whoever logs them and however."""

from __future__ import annotations

import io
import logging

import pytest

from cpqsync.observability.logging import RedactingFilter, register_secrets


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [handler]
    logger.propagate = False
    return logger, stream


def test_registered_and_shaped_secrets_are_masked_in_messages_and_tracebacks() -> None:
    register_secrets(["00Dxx0000001gPL!AQ4AQFakeSessionToken"])
    logger, stream = _capture()
    logger.warning("calling with %s", "sk_live_51AbCdEf")
    logger.info("Authorization: Bearer eyJhbGciOi.secret.part")
    try:
        raise ValueError("token 00Dxx0000001gPL!AQ4AQFakeSessionToken rejected")
    except ValueError:
        logger.exception("failed")
    out = stream.getvalue()
    assert "sk_live_51AbCdEf" not in out
    assert "eyJhbGciOi.secret.part" not in out
    assert "FakeSessionToken" not in out
    assert out.count("[REDACTED]") >= 3


def test_logging_follows_stderr_after_it_is_swapped_and_closed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A CLI invoked in-process (tests, the demo) swaps stderr; background threads log later.
    import sys

    from cpqsync.observability.logging import configure_logging

    original = sys.stderr
    temporary = io.StringIO()
    sys.stderr = temporary
    try:
        configure_logging("INFO")
    finally:
        sys.stderr = original
        temporary.close()
    logging.getLogger("test.after-close").warning("still logged sk_test_abcdef123456")
    err = capsys.readouterr().err
    assert "still logged [REDACTED]" in err
    assert "Logging error" not in err
