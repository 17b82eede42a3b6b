"""The ensemble cache: fitted ensembles kept per preset content, seed and size in the user
cache folder (``$GPSIMD_SIM_CACHE_DIR`` or ``~/.cache/gpsimd_sim``), written atomically."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path


def cache_dir() -> Path:
    """``$GPSIMD_SIM_CACHE_DIR/ensembles`` (read at each use: tests redirect it)."""
    root = os.environ.get("GPSIMD_SIM_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "gpsimd_sim") / "ensembles"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the simulator's own source: a cached ensemble made by other code (a
    changed cost, record or timing rule) is never reused."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts:
            continue
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


def file_digest(path: str | Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]
    except OSError:
        return "missing"


def read_json(path: Path) -> dict | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename; a cache folder
    that cannot be written only costs the recomputation next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass
