"""What reaches the log: warnings on one line, no per-request stripe lines, librdkafka's
lines and client errors through our logging at a sane level."""

from __future__ import annotations

import logging
import warnings

import pytest
from confluent_kafka import KafkaError

from cpqsync.kafka.client_log import ClientErrors, LibrdkafkaLog
from cpqsync.observability.logging import configure_logging


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_warnings_are_one_line_and_errors_keep_their_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    log = logging.getLogger("cpqsync.test")
    log.warning("first line\nsecond line")
    try:
        raise ValueError("the cause")
    except ValueError:
        log.warning("retrying", exc_info=True)
        log.error("giving up", exc_info=True)
    lines = _lines(capsys)
    assert lines[0].endswith("WARNING cpqsync.test: first line | second line")
    assert lines[1].endswith("retrying | ValueError: the cause")
    assert lines[2].endswith("ERROR cpqsync.test: giving up")
    assert lines[3] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: the cause"
    # Python warnings reach the log (py.warnings) formatted on one line.
    assert warnings.formatwarning("old API", DeprecationWarning, "x.py", 3) == (
        "DeprecationWarning: old API (x.py:3)"
    )


def test_the_stripe_library_speaks_only_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("stripe").info("message='Request to Stripe api' method=get")
    logging.getLogger("stripe").warning("a real warning")
    assert len(_lines(capsys)) == 1
    configure_logging("DEBUG")
    logging.getLogger("stripe").info("message='Request to Stripe api' method=get")
    assert len(_lines(capsys)) == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_librdkafka_lines_are_capped_at_warning_and_repeats_drop_to_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    target = logging.getLogger("cpqsync.kafka.librdkafka.test")
    forward = LibrdkafkaLog(target, window_s=60, clock=clock)
    caplog.set_level(logging.DEBUG, logger=target.name)
    fmt = "%s [%s] %s"
    forward.log(logging.CRITICAL, fmt, "SASL", "rdkafka#producer-1", "auth failed")
    forward.log(logging.ERROR, fmt, "SASL", "rdkafka#producer-1", "auth failed again")
    forward.log(logging.ERROR, fmt, "FAIL", "rdkafka#producer-1", "Connect to 127.0.0.1 failed")
    clock.now = 61
    forward.log(logging.ERROR, fmt, "SASL", "rdkafka#producer-1", "a minute later")
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [
        (logging.WARNING, "SASL [rdkafka#producer-1] auth failed"),
        (logging.DEBUG, "SASL [rdkafka#producer-1] auth failed again"),
        (logging.DEBUG, "FAIL [rdkafka#producer-1] Connect to 127.0.0.1 failed"),
        (logging.WARNING, "SASL [rdkafka#producer-1] a minute later"),
    ]


def test_an_unreachable_cluster_is_one_line_naming_the_setting_per_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    target = logging.getLogger("cpqsync.kafka.test")
    errors = ClientErrors("kafka:9092", target, window_s=60, clock=clock)
    caplog.set_level(logging.DEBUG, logger=target.name)
    for _ in range(50):
        errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
        errors(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    clock.now = 61
    errors(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("Kafka is unreachable at kafka:9092 (1/1 brokers are down)")
    assert "check kafka.bootstrap_servers (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS)" in messages[0]
