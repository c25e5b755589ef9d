"""The import contracts in .importlinter hold (DESIGN section 1a, "Layers").

Broken if the engine imports the application, its settings or the sync; if the product imports
the stand-ins; if planning or mapping import an I/O client; if a lower layer imports a higher
one (which is also how a package cycle shows).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = (
    "Application above roles above clients and settings above the Avro contract",
    "The consumer engine knows nothing of the application, its settings or the sync",
    "The product never imports the stand-ins",
    "Planning and mapping do no I/O",
)


def test_every_import_contract_is_kept() -> None:
    command = shutil.which("lint-imports")
    assert command is not None, "import-linter is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run(
        [command, "--no-cache", "--no-logo"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this tree's code, not an installed one
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    kept = [line for line in run.stdout.splitlines() if "KEPT" in line]
    for name in CONTRACTS:
        assert any(line.startswith(name) for line in kept), f"contract missing: {name}"
