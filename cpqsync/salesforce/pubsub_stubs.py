"""Python stubs for the Pub/Sub API, generated from our ``pubsub_api.proto`` on first use.

Generated code is not committed: the ``.proto`` is the contract, and generating
at run time from it means the stubs can never drift from it. The output goes to
``_generated/`` beside the proto when the package directory is writable (an
editable install), else to a per-user cache keyed by the proto's hash.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

PROTO_PATH = Path(__file__).with_name("pubsub_api.proto")
_lock = threading.Lock()
_loaded: tuple[ModuleType, ModuleType] | None = None


class StubGenerationError(RuntimeError):
    """grpc_tools could not compile the bundled proto (a broken install)."""


def _output_dir() -> Path:
    digest = hashlib.sha256(PROTO_PATH.read_bytes()).hexdigest()[:12]
    local = PROTO_PATH.parent / "_generated" / digest
    try:
        local.mkdir(parents=True, exist_ok=True)
        probe = local / ".write-probe"
        probe.write_text("")
        probe.unlink()
        return local
    except OSError:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        target = cache / "cpqsync" / "pubsub" / digest
        target.mkdir(parents=True, exist_ok=True)
        return target


def _generate(out: Path) -> None:
    from grpc_tools import protoc  # grpcio-tools is a runtime dependency for this reason

    include = importlib.resources.files("grpc_tools") / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_PATH.parent}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        str(PROTO_PATH),
    ]
    code = protoc.main(args)
    if code != 0:
        raise StubGenerationError(f"protoc exited {code} compiling {PROTO_PATH}")


def load() -> tuple[Any, Any]:
    """Return ``(pubsub_api_pb2, pubsub_api_pb2_grpc)``, generating them if needed."""
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        out = _output_dir()
        if not (out / "pubsub_api_pb2_grpc.py").exists():
            _generate(out)
        if str(out) not in sys.path:
            sys.path.insert(0, str(out))
        pb2 = importlib.import_module("pubsub_api_pb2")
        pb2_grpc = importlib.import_module("pubsub_api_pb2_grpc")
        _loaded = (pb2, pb2_grpc)
        return _loaded
