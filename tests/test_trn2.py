"""The Trn2 what-if preset: a GPSIMD with one integrated DMA engine per core."""
import json
from pathlib import Path

import pytest

from gpsimd_sim.config.presets import load_config
from gpsimd_sim.report.summary import format_run
from gpsimd_sim.report.trace import PID_DMA, run_trace
from gpsimd_sim.simulation import RunOptions, run
from gpsimd_sim.timing.dma import DMA_ORGANISATIONS_IMPLEMENTED

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["relu_elementwise", "relu_tcm", "relu_multicore", "relu_stream", "relu_backward",
           "bias_add", "clamp_multicore", "softmax_rows"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_kernel_runs_on_trn2_and_says_it_is_a_what_if(name):
    result = run(RunOptions(kernel=str(ROOT / "kernels" / f"{name}.py"), shape=(4, 300),
                            preset="trn2"))
    d = result.to_dict()
    assert d["correct"]
    assert d["caveat"].startswith("what-if")
    assert "caveat           what-if" in format_run(d)


def test_each_cores_transfers_run_on_that_cores_own_dma_engine():
    result = run(RunOptions(kernel=str(ROOT / "kernels" / "relu_multicore.py"),
                            shape=(8, 1024), buffer_size=256, preset="trn2", timeline=True))
    trace = run_trace(result)
    dma_slices = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["pid"] == PID_DMA]
    assert dma_slices and all(e["tid"] == e["args"]["core"] for e in dma_slices)
    names = {e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["pid"] == PID_DMA and e["name"] == "thread_name"}
    assert names == {f"DMA engine of core {c}" for c in range(8)}


def test_per_core_engines_never_wait_for_a_channel():
    result = run(RunOptions(kernel=str(ROOT / "kernels" / "relu_multicore.py"),
                            shape=(8, 1024), buffer_size=64, preset="trn2"))
    assert all(c["dma_wait_ns"] == 0 for c in result.to_dict()["per_core"])


def test_the_engines_share_the_gpsimds_total_bandwidth_in_the_bound():
    config, _ = load_config("trn2")
    result = run(RunOptions(kernel=str(ROOT / "kernels" / "relu_multicore.py"),
                            shape=(8, 1024), preset="trn2"))
    peak = result.to_dict()["dma_bandwidth_limit_bytes_per_ns"]
    assert peak == min(config.dma.dma_total_bytes_per_ns, config.memory.hbm_bytes_per_ns,
                       8 * config.dma.dma_bytes_per_ns)


def test_every_organisation_a_preset_may_name_is_implemented():
    from gpsimd_sim.config.hardware import DMA_ORGANISATIONS
    assert set(DMA_ORGANISATIONS) == set(DMA_ORGANISATIONS_IMPLEMENTED)
