"""Speed of the error bands (issue 12) and of calibration and validation (issue 14).

Each figure is the median wall time of a fresh process (start-up included), with warm caches
(numba, the layer outputs, the documented points' kernel runs, the fitted ensemble): the
first run after installing, or after any change to the simulator's source, builds them.

1. `run` of kernels/relu_tcm.py [32,4096] with its band, against the plain run.
   Target: at most 3x the plain run.
2. `validate` with bands (every row's band, the one-at-a-time table). Target: < 5 s.
3. The ensemble replay of relu_tcm [32,4096] (members re-timed per second, in process).
   Target: at least 20 members/s.
4. `validate` without bands. Target: < 1 s.
5. `calibrate --dry-run --sensitivity`. Target: < 1.5 s.
6. The cold build of the fitted ensemble (100 members, refitted on the fit points), once.

    python benchmarks/bench_bands.py [--repeat 5] [--members 100]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

from common import ROOT, compile_package, median_wall, simulator, wall_once

RUN = """
from gpsimd_sim.simulation import RunOptions, run
r = run(RunOptions(kernel="kernels/relu_tcm.py"))
d = r.to_dict()
"""
RUN_BAND = RUN + """
from gpsimd_sim.uncertainty import run_band
d.update(run_band(r, members={members}))
"""
VALIDATE_BANDS = """
from gpsimd_sim.uncertainty.bands import add_validate_bands
from gpsimd_sim.workload.calibration import validation_report
from gpsimd_sim.workload.validation_text import validation_text
doc = add_validate_bands(validation_report("trn1"), members={members})
validation_text(doc)
"""


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def replay_rate(members: int) -> float:
    from gpsimd_sim.simulation import RunOptions, run
    from gpsimd_sim.uncertainty import run_band
    result = run(RunOptions(kernel=str(ROOT / "kernels/relu_tcm.py")))
    run_band(result, members=4)  # the ensemble drawn
    t0 = time.perf_counter()
    run_band(result, members=members)
    return members / (time.perf_counter() - t0)


def cold_build(members: int) -> float:
    import os
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GPSIMD_SIM_CACHE_DIR": tmp}
        code = ("from gpsimd_sim.uncertainty import get_ensemble\n"
                f"get_ensemble('trn1', {members}).fits()\n")
        return wall_once(py(code), env)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--members", type=int, default=100)
    args = ap.parse_args()
    compile_package()   # as an installed copy is
    n = args.members
    plain = median_wall(py(RUN), args.repeat)
    banded = median_wall(py(RUN_BAND.format(members=n)), args.repeat)
    print(f"1. run relu_tcm [32,4096]: plain {plain:.2f} s, with its band ({n} members) "
          f"{banded:.2f} s = {banded / plain:.2f}x   (target <= 3x)")
    vb = median_wall(py(VALIDATE_BANDS.format(members=n)), args.repeat)
    print(f"2. validate with bands ({n} members): {vb:.2f} s   (target < 5 s)")
    print(f"3. ensemble replay, relu_tcm [32,4096]: {replay_rate(n):.0f} members/s   "
          f"(target >= 20)")
    v = median_wall(simulator("validate"), args.repeat)
    print(f"4. validate without bands: {v:.2f} s   (target < 1 s)")
    c = median_wall(simulator("calibrate", "--dry-run", "--sensitivity"),
             args.repeat)
    print(f"5. calibrate --dry-run --sensitivity: {c:.2f} s   (target < 1.5 s)")
    print(f"6. cold build of the fitted ensemble ({n} members, empty cache): "
          f"{cold_build(n):.1f} s (once per preset content, seed and size)")


if __name__ == "__main__":
    main()
