"""The import contracts in .importlinter hold (DESIGN section 1a, "Layers").

Broken if the engine imports the application, its settings or the sync; if the low layer
(``cpqsync`` outside ``cpqsync.app``) imports the application or the roles; if the product imports
the stand-ins; if planning or mapping import an I/O client; if a lower layer imports a higher
one, or two packages import each other (a package cycle); or if an exception
(``ignore_imports``) is added to tolerate an import across layers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import grimp

import consumer

ROOT = Path(__file__).resolve().parents[1]
LAYERS = "Application above roles above clients and settings above the Avro contract"
ENGINE = "The consumer engine knows nothing of the application, its settings or the sync"
CYCLES = "No package imports another that imports it back"
LOW_LAYER = "The low layer never imports the application, the roles or the sync"
CONTRACTS = (
    LAYERS,
    LOW_LAYER,
    CYCLES,
    ENGINE,
    "The product never imports the stand-ins",
    "Planning and mapping do no I/O",
)
# The contracts that hold without exceptions: a layering problem is fixed, not listed.
WITHOUT_EXCEPTIONS = (LAYERS, LOW_LAYER, CYCLES, ENGINE)
OUR_PACKAGES = ("consumer", "cpqsync", "cpqsync_sandbox", "producer_bridge", "schemas")


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
    for name in WITHOUT_EXCEPTIONS:
        [line] = [line for line in kept if line.startswith(name)]
        assert "ignored" not in line, f"{name}: layering exceptions are back: {line}"


def _graph() -> grimp.ImportGraph:
    assert Path(consumer.__file__).resolve().is_relative_to(ROOT), "checking another tree"
    return grimp.build_graph(*OUR_PACKAGES, cache_dir=None)


def test_the_engine_imports_nothing_of_ours_but_itself_and_the_logging_floor() -> None:
    # Whatever module is added to the application later, not only those the contract lists.
    graph = _graph()
    engine = graph.find_descendants("consumer.engine") | {"consumer.engine"}
    ours = {
        (module, imported)
        for module in engine
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.partition(".")[0] in OUR_PACKAGES
        and imported not in engine
        and not imported.startswith("cpqsync.observability.")
    }
    assert not ours, sorted(ours)


def test_nothing_in_the_low_layer_imports_the_application_or_the_roles() -> None:
    # Every module of cpqsync/ outside cpqsync/app/, including one added later that the
    # contract does not list yet. ``python -m cpqsync`` (cpqsync.__main__) starts the application.
    graph = _graph()
    application = graph.find_descendants("cpqsync.app") | {"cpqsync.app"}
    low_layer = graph.find_descendants("cpqsync") - application - {"cpqsync.__main__"}
    above = ("cpqsync.app", "consumer", "producer_bridge", "cpqsync_sandbox")
    upward = {
        (module, imported)
        for module in low_layer
        for imported in graph.find_modules_directly_imported_by(module)
        if any(imported == top or imported.startswith(top + ".") for top in above)
    }
    assert low_layer, "no low layer found"
    assert not upward, sorted(upward)
