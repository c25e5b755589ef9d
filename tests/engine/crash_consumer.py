"""A consumer process for the crash-safety test: logs every message it handles, then says done.

Run as ``python -m tests.engine.crash_consumer BOOTSTRAP TOPIC GROUP LOG RUN``.
Each handled message is appended to LOG (one ``os.write`` per line, so a
SIGKILL never leaves half a line) before the handler reports it processed.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Sequence

from consumer.engine import BatchHandler, Message, Outcome, Processed, install_signal_handlers
from tests.engine.support import decode_int, make_engine
from tests.support.kafka_env import FAST_GROUP_CONFIG


class LoggingHandler(BatchHandler[int]):
    max_batch_size = 8

    def __init__(self, log_fd: int, run: int) -> None:
        self._fd = log_fd
        self._run = run
        self._rng = random.Random()

    def handle_batch(self, batch: Sequence[Message[int]]) -> Sequence[Outcome]:
        time.sleep(self._rng.uniform(0, 0.005))
        lines = "".join(
            json.dumps([self._run, m.key.decode() if m.key else "", m.value, m.partition, m.offset])
            + "\n"
            for m in batch
        )
        os.write(self._fd, lines.encode())
        return [Processed()] * len(batch)


def main() -> int:
    bootstrap, topic, group, log_path, run = sys.argv[1:6]
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    engine = make_engine(
        bootstrap,
        topic,
        group,
        LoggingHandler(fd, int(run)),
        dict(FAST_GROUP_CONFIG),
        decode=decode_int,
        workers=8,
        commit_interval_ms=100,
        commit_every_messages=50,
    )
    install_signal_handlers(engine.request_stop)
    engine.run()
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
