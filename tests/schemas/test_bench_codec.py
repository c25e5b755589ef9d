"""bench/codec.py keeps working (its figures are recorded in docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_codec_benchmark_prints_every_contender_with_a_ratio() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "codec.py"), "--seconds", "0.6", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = {line[:22].strip(): line.split() for line in run.stdout.splitlines()[2:]}
    assert set(rows) == {"plain fastavro", "codec single-object", "codec confluent"}
    assert rows["plain fastavro"][-1] == "1.00"
    assert all(float(row[-1]) > 0 for row in rows.values())
