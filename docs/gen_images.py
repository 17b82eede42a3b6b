"""Regenerate the plots in docs/img from the sweeps docs/sweeps.md describes.

    python docs/gen_images.py      # about a minute on two cores

Each sweep runs into a temporary folder; its PNGs are copied under the names the docs use.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
BUFFERS = "64,128,256,512,1024,2048,4096,8192"
SWEEPS = [  # (arguments, {produced PNG: name in docs/img})
    (["kernels/relu_multicore.py", "--buffer-size", BUFFERS, "--cores", "1-8"],
     {"time_vs_buffer.png": "sweep_multicore_time_vs_buffer.png",
      "speedup_vs_cores.png": "sweep_multicore_speedup.png"}),
    (["kernels/relu_multicore.py", "--buffer-size", "4096", "--cores", "1-8",
      "--sweep-set", "dma_queues=2,4,16"],
     {"speedup_vs_cores.png": "sweep_multicore_dma_queues.png"}),
    (["kernels/relu_tcm.py", "--buffer-size", BUFFERS],
     {"time_vs_buffer.png": "sweep_tcm_time_vs_buffer.png"}),
    (["kernels/relu_multicore.py", "--mlp", "--buffer-size", BUFFERS, "--cores", "1-8"],
     {"iter_per_s_vs_buffer.png": "sweep_mlp_multicore_iter_per_s.png",
      "speedup_vs_cores.png": "sweep_mlp_multicore_speedup.png"}),
    (["kernels/relu_tcm.py", "--mlp", "--buffer-size", BUFFERS],
     {"iter_per_s_vs_buffer.png": "sweep_mlp_tcm_iter_per_s.png"}),
]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for i, (args, pngs) in enumerate(SWEEPS):
            out = Path(tmp) / f"s{i}"
            subprocess.run([sys.executable, "-m", "gpsimd_sim", "sweep", *args, "--no-band",
                            "--out", str(out)], cwd=ROOT, check=False,
                           stdout=subprocess.DEVNULL)
            for produced, name in pngs.items():
                shutil.copyfile(out / produced, IMG / name)
                print(f"docs/img/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
