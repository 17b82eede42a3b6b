"""gpsimd_sim from Python: define a kernel, simulate it on your own arrays, compare settings.

    python docs/examples/python_api_example.py        (from the repository root)

Walked through in docs/python-api.md.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import gpsimd_sim
from gpsimd_sim.api import empty, float32, kernel, loop, sizeof, tcm_free, tcm_malloc
from gpsimd_sim.errors import ConfigError, KernelFault, SimError

ROOT = Path(__file__).resolve().parents[2]
os.chdir(ROOT)      # kernel paths below are relative to the repository root
BUFFER_SIZE = 1024  # floats per TCM block; simulate(..., buffer_size=N) overrides it


# -- 1. a kernel, defined right here ---------------------------------------------------------

def scale_reference(t_in, factor):
    """What the kernel must compute: NumPy, on the kernel's arguments."""
    return (t_in * np.float32(factor)).astype(np.float32)


@loop
def scale_block(buf, n, factor):
    for j in range(n):
        buf[j] = buf[j] * factor


@kernel(reference=scale_reference)
def scale(t_in, factor: float = 2.0):          # factor: a C++ `double`
    num_elem = t_in.numel()
    t_out = empty(t_in.sizes(), float32)
    buf = tcm_malloc(sizeof(float32) * BUFFER_SIZE, float32)
    if buf is not None:
        t_in_acc, t_out_acc = t_in.tcm_accessor(), t_out.tcm_accessor()
        for i in range(0, num_elem, BUFFER_SIZE):
            n = min(BUFFER_SIZE, num_elem - i)
            t_in_acc.tensor_to_tcm(buf, i, n)
            scale_block(buf, n, factor)
            t_out_acc.tcm_to_tensor(buf, i, n)
    tcm_free(buf)
    return t_out


x = np.random.default_rng(0).standard_normal((32, 4096)).astype(np.float32)

# -- 2. simulate it ---------------------------------------------------------------------------
print("## 2. one run")
result = gpsimd_sim.simulate(scale, x, 3.0)
print("correct:", result.correct)
print(f"simulated: {result.simulated_ns / 1e3:.2f} us")
print("output[0, :3]:", result.output[0, :3], " x[0, :3] * 3:", x[0, :3] * 3)

d = result.to_dict()
print("keys:", ", ".join(list(d)[:12]), "...", f"({len(d)} in all)")
print("check:", {k: d["check"][k] for k in ("checked", "correct", "rtol", "atol")})
print("inputs:", [(a["name"], a.get("shape", a.get("value"))) for a in d["inputs"]])
print("limiter:", d["limiter"]["resource"], f"{d['limiter']['share_pct']:.0f}%")

# -- 3. compare buffer sizes and presets ------------------------------------------------------
print("\n## 3. buffer sizes (trn1)")
for size in (256, 512, 1024, 2048, 4096):
    r = gpsimd_sim.simulate(scale, x, 3.0, buffer_size=size)
    print(f"  buffer {size:5d}: {r.simulated_ns / 1e3:8.2f} us  correct={r.correct}")

print("\n## 3b. presets, and one parameter overridden")
for preset, overrides in (("trn1", {}), ("inf2", {}), ("trn1", {"dma_bytes_per_ns": 54.4})):
    r = gpsimd_sim.simulate(scale, x, 3.0, preset=preset, overrides=overrides)
    print(f"  {preset} {overrides or ''}: {r.simulated_ns / 1e3:.2f} us")

print("\n## 3c. a multicore kernel file, by core count")
for cores in (1, 2, 4, 8):
    r = gpsimd_sim.simulate("kernels/clamp_multicore.py", x, -0.5, 0.5, cores=cores)
    print(f"  {cores} cores: {r.simulated_ns / 1e3:7.2f} us  correct={r.correct}")

# -- 4. errors: one line each, an exception class per kind ------------------------------------
print("\n## 4. errors")
attempts = {
    "too few arguments": lambda: gpsimd_sim.simulate("kernels/relu_backward.py", x),
    "a double given a string": lambda: gpsimd_sim.simulate("kernels/clamp_multicore.py",
                                                           x, "low", 0.5),
    "cores on a single-core kernel": lambda: gpsimd_sim.simulate(scale, x, cores=2),
    "an unknown preset parameter": lambda: gpsimd_sim.simulate(scale, x, overrides={"dma": 1}),
    "the published multicore bug": lambda: gpsimd_sim.simulate(
        "tests/kernels/relu_multicore_published.py",
        np.ones((1, 4097), np.float32)),
}
for what, attempt in attempts.items():
    try:
        attempt()
    except KernelFault as exc:      # the kernel did something wrong (exit code 3 on the CLI)
        print(f"  {what}: KernelFault: {exc}")
    except ConfigError as exc:      # bad arguments or options (exit code 2)
        print(f"  {what}: ConfigError: {exc}")
    except SimError as exc:         # anything else the simulator refuses
        print(f"  {what}: {type(exc).__name__}: {exc}")

# A TCM buffer larger than the 16 KiB pool: tcm_malloc returns None (as in C++), the kernel
# writes nothing, and the check says so. Not an exception.
r = gpsimd_sim.simulate(scale, x, 3.0, buffer_size=8192)
c = r.to_dict()["check"]
print(f"  buffer 8192 floats: correct={r.correct}, {c['wrong_elements']} wrong, first at "
      f"{c['first_wrong_index']}: expected {c['expected_value']:.4f}, got {c['actual_value']}")

# -- 5. the same document as `run --json` ----------------------------------------------------
print("\n## 5. simulate() and run --json")
rng = np.random.default_rng(7)
grad, t_in = (rng.standard_normal((4, 33)).astype(np.float32) for _ in range(2))
api = gpsimd_sim.simulate("kernels/relu_backward.py", grad, t_in).to_dict()
with tempfile.TemporaryDirectory() as tmp:
    np.save(f"{tmp}/g.npy", grad)
    np.save(f"{tmp}/x.npy", t_in)
    out = subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", "kernels/relu_backward.py",
                          "--input", f"t_grad={tmp}/g.npy", "--input", f"t_in={tmp}/x.npy",
                          "--shape", "4x33", "--json"],
                         capture_output=True, text=True, check=False).stdout
cli = json.loads(out)
api.pop("wall_s")
cli.pop("wall_s")
print("same document (wall_s aside):", api == cli)
