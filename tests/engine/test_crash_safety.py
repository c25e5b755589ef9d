"""SIGKILL at random points never loses a message and never skips past the committed watermark."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.engine.support import committed_offsets, end_of, produce_keyed, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _start(kafka: str, topic: str, group: str, log: Path, run: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.engine.crash_consumer",
            kafka,
            topic,
            group,
            str(log),
            str(run),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _read(log: Path) -> list[tuple[int, str, int, int, int]]:
    if not log.exists():
        return []
    rows: list[tuple[int, str, int, int, int]] = []
    for line in log.read_text().splitlines():
        run, key, value, partition, offset = json.loads(line)
        rows.append((run, key, value, partition, offset))
    return rows


def _crash_and_recover(
    kafka: str, topic: str, group: str, log: Path, total: int, kills: int, seed: int
) -> None:
    rng = random.Random(seed)
    kill_points = sorted(rng.sample(range(total // 10, total * 9 // 10), kills))
    resume_from: dict[int, dict[int, int]] = {0: dict.fromkeys(range(4), 0)}
    run = 0
    proc = _start(kafka, topic, group, log, run)
    try:
        for point in kill_points:

            def reached(at: int = point) -> bool:
                return len(_read(log)) >= at

            wait_until(reached, 90, f"run {run} to reach {point}")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            handled = {(p, o) for _, _, _, p, o in _read(log)}
            committed = {
                p: max(o, 0) for (_, p), o in committed_offsets(kafka, group, topic, 4).items()
            }
            for partition, offset in committed.items():
                unhandled = [o for o in range(offset) if (partition, o) not in handled]
                assert not unhandled, f"committed {offset} on p{partition} past {unhandled[:5]}"
            run += 1
            resume_from[run] = committed
            proc = _start(kafka, topic, group, log, run)
        # The last run has caught up once its commits reach the end of every partition.
        end = end_of(kafka, topic, 4)
        wait_until(lambda: committed_offsets(kafka, group, topic, 4) == end, 120, "the end")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"SIGTERM should stop it cleanly: {stderr.decode()[-2000:]}"
    assert committed_offsets(kafka, group, topic, 4) == end

    records = _read(log)
    first: dict[tuple[int, int], int] = {}
    by_run_key: dict[tuple[int, str], list[int]] = defaultdict(list)
    for r, key, value, partition, offset in records:
        by_run_key[(r, key)].append(value)
        first[(r, partition)] = min(offset, first.get((r, partition), offset))
    for (r, partition), offset in first.items():
        expected = resume_from[r][partition]
        assert offset == expected, f"run {r} began p{partition} at {offset}, committed {expected}"
    for (r, key), values in by_run_key.items():
        assert values == sorted(values), f"run {r} key {key} out of order"
    assert {value for _, _, value, _, _ in records} == set(range(total))


def test_sigkill_at_random_points_loses_nothing(
    kafka: str, new_topic: Any, unique: Any, tmp_path: Path
) -> None:
    topic = new_topic("crash", partitions=4)
    produce_keyed(kafka, topic, 3000, 60)
    _crash_and_recover(kafka, topic, unique("g"), tmp_path / "handled.log", 3000, kills=1, seed=11)


@pytest.mark.slow
def test_many_sigkills_lose_nothing(
    kafka: str, new_topic: Any, unique: Any, tmp_path: Path
) -> None:
    topic = new_topic("crash", partitions=4)
    produce_keyed(kafka, topic, 20_000, 300)
    _crash_and_recover(
        kafka, topic, unique("g"), tmp_path / "handled.log", 20_000, kills=5, seed=29
    )
