"""Secrets never reach log output, whoever logs them and however."""

from __future__ import annotations

import io
import logging

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
