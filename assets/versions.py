"""Each asset's `code_version`: a short hash of the source of the code that decides what it writes (its SQL
file, or the Python modules named), so the Dagster UI marks an asset stale exactly when that code changed,
and an auditor can tell which code produced a materialisation. The modules are located, not imported."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def source_of(module: str) -> bytes:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no source for {module}")
    return Path(spec.origin).read_bytes()


def code_version(*modules: str, files: tuple[Path, ...] = ()) -> str:
    """sha256 (first 12 hex digits) over the named modules' source files and any other `files` (templates)."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(module.encode() + b"\0" + source_of(module) + b"\0")
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]
