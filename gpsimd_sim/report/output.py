"""Writing results: atomically, never over an input or a special file, in one folder.

An interrupted run never leaves a half-written file (a temporary file in the same folder,
then a rename). ``OutputGuard`` refuses, before anything runs, an output path that is an
input of the same command, a special file (a device, a FIFO), or the path of another output.
``write_folder`` writes a run's files together (gem5's output directory): a new folder
takes the place of the old one in one rename.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from ..cachefiles import replace_atomically
from ..errors import ConfigError

RESULT_MARKER = "result.json"   # a folder holding this is a gpsimd_sim result folder


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename, on
    disk before the rename; results are for sharing (the umask's permissions, not 0600)."""
    path = Path(path)
    refuse_special(path, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda fh: fh.write(text), binary=isinstance(text, bytes),
                       sync=True, mode=0o666 & ~_umask())


def refuse_special(path: Path, label: str) -> None:
    """A device, FIFO or socket is never replaced by a result (a rename would destroy it)."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise ConfigError(f"{label}: cannot write here ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{label}: is a directory; give a file name")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{label}: is a special file (a device or a FIFO), not a place for "
                          "a result")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


class OutputGuard:
    """The outputs and inputs of one command, checked against each other up front."""

    def __init__(self):
        self.inputs: list[tuple[str, Path]] = []
        self.outputs: list[tuple[str, Path]] = []

    def input(self, label: str, path) -> None:
        if path is not None and not callable(path):
            self.inputs.append((label, Path(str(path))))

    def output(self, label: str, path, folder: bool = False,
               markers: tuple[str, ...] = (RESULT_MARKER,)) -> None:
        if path is None:
            return
        p = Path(path)
        for other_label, other in self.outputs:
            if _same(p, other) or (folder and _inside(other, p)) or _inside(p, other):
                raise ConfigError(f"{label} {path}: the same place as {other_label} {other}; "
                                  "give each output its own path")
        for in_label, src in self.inputs:
            if _same(p, src) or (folder and _inside(src, p) and p.exists()):
                raise ConfigError(f"{label} {path}: would write over the {in_label} {src}; "
                                  "an output never replaces an input")
        if folder:
            if p.exists() and not p.is_dir():
                raise ConfigError(f"{label} {path}: exists and is not a folder")
            if p.is_dir() and any(p.iterdir()) and not any((p / m).exists() for m in markers):
                raise ConfigError(f"{label} {path}: the folder holds files that are not a "
                                  "gpsimd_sim result; choose an empty or new folder")
        else:
            refuse_special(p, f"{label} {path}")
        self.outputs.append((label, p))


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def write_folder(folder: str | Path, files: dict[str, str | bytes]) -> None:
    """Write ``files`` (name -> content) as the folder ``folder``, all or nothing."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(tmp / name, mode) as fh:
                fh.write(content)
        mask = _umask()
        os.chmod(tmp, 0o777 & ~mask)
        for name in files:
            os.chmod(tmp / name, 0o666 & ~mask)
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old.{os.getpid()}")
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def to_json(obj, indent: int | None = 2) -> str:
    """Strict JSON (no NaN or Infinity: those become null)."""
    return json.dumps(_finite(obj), indent=indent, default=_default, allow_nan=False) + "\n"


def _finite(o):
    if isinstance(o, float):
        return o if o == o and o not in (float("inf"), float("-inf")) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _default(o):
    import numpy as np
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
