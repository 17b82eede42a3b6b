"""What the benchmarks share: the project root and the wall time of a whole command."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def simulator(*args: str) -> list[str]:
    """``python -m gpsimd_sim ARGS`` with this interpreter."""
    return [sys.executable, "-m", "gpsimd_sim", *args]


def wall_once(cmd: list[str], env=None) -> float:
    """Wall seconds of one run of ``cmd`` from the project root (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def median_wall(cmd: list[str], repeat: int, env=None) -> float:
    """Median wall seconds of ``repeat`` runs, after one run that warms the caches."""
    wall_once(cmd, env)
    return statistics.median(wall_once(cmd, env) for _ in range(repeat))


def compile_package() -> None:
    """Byte-compile the package's sources, as installing it does.

    A command times as a user's would only if Python need not compile the package on every
    start: this sandbox sets PYTHONDONTWRITEBYTECODE, so a checkout run in place would
    recompile every module each time (0.2-0.3 s a command), which no installed copy does.
    """
    import compileall
    compileall.compile_dir(str(ROOT / "gpsimd_sim"), quiet=1)
