"""Files the simulator keeps between runs in the user cache folder (``$GPSIMD_SIM_CACHE_DIR``
or ``~/.cache/gpsimd_sim``): fitted ensembles (uncertainty/), runs of the shipped kernels
(workload/runcache.py). Keys include ``code_digest``, so nothing made by other code is
reused; files are written atomically."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path


def base_dir() -> Path:
    """``$GPSIMD_SIM_CACHE_DIR`` or ``~/.cache/gpsimd_sim`` (read at each use: tests
    redirect it)."""
    root = os.environ.get("GPSIMD_SIM_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "gpsimd_sim"


def private(path: Path, error: type | None = None, uses: str = "loads data from it") -> Path:
    """``path`` made owner-only, refused (``error``, ConfigError by default) when someone
    else could write into it: the simulator unpickles, or imports (``uses``), what it finds
    there."""
    from .errors import ConfigError
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise (error or ConfigError)(
            f"{path}: the cache folder is writable by others or not yours, and gpsimd_sim "
            f"{uses}: run `chmod go-w` on it or set GPSIMD_SIM_CACHE_DIR to a folder of "
            "your own")
    return path


def cache_dir() -> Path:
    """Fitted ensembles: ``<cache>/ensembles``."""
    return private(base_dir() / "ensembles")


def workload_dir() -> Path:
    """Kept runs and activations of the documented workloads: ``<cache>/workload``."""
    return private(base_dir() / "workload")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the simulator's own source: a cached ensemble made by other code (a
    changed cost, record or timing rule) is never reused."""
    root = Path(__file__).resolve().parent
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


def replace_atomically(path: Path, dump, binary: bool = False, sync: bool = False,
                       mode: int | None = None) -> None:
    """Write ``path`` through ``dump(file)`` into a temporary file beside it, then rename it
    over ``path``: a reader never sees half a file, and a failure leaves no temporary file.
    ``sync``: on disk before the rename; ``mode``: its permissions (else mkstemp's 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            dump(fh)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_atomic(path: Path, dump, binary: bool = False) -> None:
    """A cache file through ``dump(file)``, atomically (``replace_atomically``), readable by
    its owner only; a cache folder that cannot be written only costs the recomputation
    next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, dump, binary)
    except OSError:
        pass


def write_json_atomic(path: Path, data: dict) -> None:
    """``data`` as JSON (sorted keys), written atomically (``write_atomic``)."""
    write_atomic(path, lambda fh: json.dump(data, fh, sort_keys=True))
