"""librdkafka's own log lines and client errors, through our logging at a sane level.

Without this, librdkafka prints ``%3|…|FAIL|…`` lines straight to stderr, one per
connection attempt: hundreds a minute while a broker is down, outside our format,
level and redaction. Every client we build (``cpqsync.kafka.clients``) forwards
them to the ``cpqsync.kafka.librdkafka`` logger instead. A line is shown at most
at WARNING; the same facility repeating within :data:`REPEAT_WINDOW_S` drops to
DEBUG, so an outage says so once a minute rather than flooding; connection
failures (``FAIL``) are DEBUG since the client error below already reports them. Client errors
(``error_cb``) that mean the cluster cannot be reached are logged as one line
naming ``kafka.bootstrap_servers``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError

REPEAT_WINDOW_S = 60.0
LIBRDKAFKA_LOGGER = "cpqsync.kafka.librdkafka"

# Client errors that mean "the brokers cannot be reached", as opposed to one request failing.
_UNREACHABLE = {
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TRANSPORT,
    KafkaError._RESOLVE,
    KafkaError._TIMED_OUT,
}

# librdkafka facilities whose lines duplicate a client error delivered to error_cb.
_REPORTED_BY_ERROR_CB = {"FAIL", "ERROR"}


class _Throttle:
    """Whether a key was seen within the window (thread-safe; clients log from many threads)."""

    def __init__(self, window_s: float, clock: Callable[[], float]) -> None:
        self._window_s = window_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def repeated(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._window_s:
                return True
            self._last[key] = now
            return False


class LibrdkafkaLog:
    """What confluent-kafka's ``logger`` option calls: ``log(level, fmt, *args)``."""

    def __init__(
        self,
        logger: logging.Logger | None = None,
        window_s: float = REPEAT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger or logging.getLogger(LIBRDKAFKA_LOGGER)
        self._throttle = _Throttle(window_s, clock)

    def log(self, level: int, msg: str, *args: Any) -> None:
        # confluent-kafka passes ("%s [%s] %s", facility, client name, text).
        facility = str(args[0]) if args else ""
        # FAIL/ERROR lines repeat what error_cb reports once, naming the setting.
        shown = logging.DEBUG if facility in _REPORTED_BY_ERROR_CB else min(level, logging.WARNING)
        if shown > logging.DEBUG and self._throttle.repeated(facility):
            shown = logging.DEBUG
        self._logger.log(shown, msg, *args)


class ClientErrors:
    """confluent-kafka's ``error_cb``: unreachable brokers as one line naming the setting."""

    def __init__(
        self,
        bootstrap_servers: str,
        logger: logging.Logger | None = None,
        window_s: float = REPEAT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._servers = bootstrap_servers
        self._logger = logger or logging.getLogger("cpqsync.kafka")
        self._throttle = _Throttle(window_s, clock)

    def __call__(self, error: KafkaError) -> None:
        if error.code() in _UNREACHABLE:
            if not self._throttle.repeated("unreachable"):
                self._logger.warning(
                    "%s; librdkafka keeps retrying",
                    unreachable_message(self._servers, error.str()),
                )
            return
        if not self._throttle.repeated(str(error.code())):
            self._logger.warning("Kafka client error: %s", error.str())


def unreachable_message(bootstrap_servers: str, detail: str) -> str:
    """The one line an operator sees when no broker answers."""
    return (
        f"Kafka is unreachable at {bootstrap_servers} ({detail}); "
        "check kafka.bootstrap_servers (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS)"
    )


_shared_log = LibrdkafkaLog()


def client_logging(bootstrap_servers: str) -> dict[str, Any]:
    """The properties that route a client's logs and errors through our logging."""
    return {"logger": _shared_log, "error_cb": ClientErrors(bootstrap_servers)}
