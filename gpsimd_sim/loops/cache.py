"""Where generated counting variants live, and how they become numba dispatchers.

Each variant is written once to ``<cache>/loops/<loop>_<hash of its text>.py`` and
jitted with ``cache=True``, so numba's on-disk cache (keyed on that file) serves later
processes. The cache folder is ``$GPSIMD_SIM_CACHE_DIR`` or ``~/.cache/gpsimd_sim``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

from ..cachefiles import base_dir, private

HELPERS_MODULE = "gpsimd_sim.loops.helpers"
NUMBA_OPTIONS = dict(cache=True, error_model="numpy", boundscheck=False, nogil=True)


def _helpers_hash() -> str:
    """Hash of the helpers' source: numba's cache of a generated function embeds the
    helpers' machine code but is keyed only on the generated file, so a helper change
    must change the generated text (and hence its file name)."""
    digest = hashlib.sha256()
    for name in ("helpers.py", "abi.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()[:16]


HELPERS_HASH = _helpers_hash()


def cache_dir() -> Path:
    """Folder of the generated sources (read at each build: tests redirect it)."""
    return base_dir() / "loops"


def private_dir(path: Path) -> Path:
    """Make ``path`` (owner-only) and refuse it if someone else could write into it: the
    simulator imports the code it finds there."""
    from ..errors import KernelLoadError
    return private(path, KernelLoadError, "imports code from it")


def write_once(path: Path, text: str) -> None:
    """Create ``path`` with ``text`` atomically, leaving an existing identical file alone.

    numba's cache index records the source file's mtime, so the file must never be
    rewritten once it exists: processes racing to create it link a complete temp file
    into place (``os.link`` fails if another won), and never replace a good file.
    """
    try:
        existing = path.read_text()
    except FileNotFoundError:
        existing = None
    except (OSError, UnicodeDecodeError):
        existing = ""
    if existing == text:
        return
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)             # mkstemp made it 0600: readable only by its owner
        if existing is None:
            try:
                os.link(tmp, path)
                return
            except FileExistsError:
                return               # another process wrote the same text (same hash)
            except OSError:
                pass                 # no hard links on this filesystem
        os.replace(tmp, path)        # absent without link support, or a corrupt file
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


_dispatchers: dict[str, object] = {}  # generated file -> numba dispatcher, per process
build_lock = threading.RLock()         # one build at a time: sys.modules, _dispatchers


def jit_file(path: Path, func_name: str):
    """Import the generated module and wrap its function in a caching numba dispatcher."""
    key = str(path)
    if key in _dispatchers:
        return _dispatchers[key]
    mod_name = f"gpsimd_sim_loop_{path.stem}"
    module = sys.modules.get(mod_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[mod_name]
            raise
    import numba  # here, not at import: loading a kernel file should not pay for numba

    dispatcher = numba.njit(**NUMBA_OPTIONS)(getattr(module, func_name))
    _dispatchers[key] = dispatcher
    return dispatcher


def build(loop_name: str, text: str, func_name: str) -> tuple[object, Path]:
    """Write ``text`` to the cache (once) and return its function's dispatcher and path."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    path = private_dir(cache_dir()) / f"{loop_name}_{digest}.py"
    write_once(path, text)
    return jit_file(path, func_name), path


_WARM_SOURCE = "def warm(x):\n    return x + 1\n"


def warm() -> None:
    """Import numba and load one tiny cached function: numba's first load of any function
    sets its compiler up (its registries, the BLAS check that imports scipy), about half a
    second that ``simulation.run`` spends beside drawing the inputs, not after it."""
    with build_lock:
        dispatcher, _ = build("warm", _WARM_SOURCE, "warm")
        dispatcher(1)
