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
