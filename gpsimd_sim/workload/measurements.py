"""Documented throughputs: the named data calibration fits and validation checks against.

Source: the Neuron tutorial "Neuron Custom C++ Operators Performance Optimization"
(docs/hardware.md#benchmark), printed by inference.py on a trn1 instance.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    variant: str
    kernel: str              # kernel file, relative to the project root
    cores: int | None        # None: the kernel's own (1 for single-core kernels)
    buffer_size: int | None
    iter_per_s: float
    source: str
    cpp_kernel: str | None = None   # the C++ source the tutorial ran, unedited (kernels/cpp/)


TUTORIAL = "Neuron Custom C++ Operators Performance Optimization tutorial, trn1"

MEASUREMENTS = {
    "trn1": [
        Measurement("element-wise accessor", "kernels/relu_elementwise.py", None, None,
                    8.098649744235592, TUTORIAL + ", neuron/ (element-wise accessor)",
                    "kernels/cpp/neuron/relu.cpp"),
        Measurement("TCM accessor", "kernels/relu_tcm.py", None, 1024,
                    220.73800131604054, TUTORIAL + ", neuron-tcm/ (buffer_size 1024)",
                    "kernels/cpp/neuron-tcm/relu.cpp"),
        Measurement("TCM, 8 cores", "kernels/relu_multicore.py", 8, 1024,
                    269.936119707143, TUTORIAL + ", neuron-multicore/ (get_dst_tensor)",
                    "kernels/cpp/neuron-multicore/relu.cpp"),
    ],
}

# Which documented points the fit may see; the rest are held out and reported as predictions.
FIT_VARIANTS = ("element-wise accessor", "TCM accessor")
# The parameters no public source gives that calibration fits (at most two).
FITTED_PARAMETERS = ("element_access_ns", "host_step_ns")


def documented_point(preset: str, kernel: str, cores: int | None = None,
                     buffer_size: int | None = None) -> Measurement | None:
    """The documented measurement a whole-model run reproduces (same kernel file; cores and
    buffer size as documented, or left at the kernel's defaults), if any."""
    from pathlib import Path

    from .run import resolve_path
    want = Path(resolve_path(kernel)).resolve()
    for m in MEASUREMENTS.get(preset, []):
        if Path(resolve_path(m.kernel)).resolve() != want:
            continue
        if cores is not None and cores != (m.cores or 1):
            continue
        if buffer_size is not None and buffer_size != m.buffer_size:
            continue
        return m
    return None
