"""Monotonicity laws: a faster clock, more DMA bandwidth, a lower DMA fixed cost or a cheaper
element access never makes a kernel slower.

The functional stage does not depend on these parameters, so each law runs a kernel once and
replays its records on the timing model under the preset and under the improved preset.
"""
import pytest
from conftest import as_overrides, parameters, workloads
from hypothesis import given
from hypothesis import strategies as st

from gpsimd_sim.config.presets import with_values
from gpsimd_sim.simulate import run
from gpsimd_sim.timing.engine import simulate_timing

REL = 1e-9  # float rounding of sums of delays

factors = st.floats(1.0, 16.0)


def improved(config, parameter: str, factor: float):
    """``config`` with ``parameter`` improved by ``factor`` (faster or cheaper)."""
    section = {"clock_hz": config.core, "dma_bytes_per_ns": config.dma,
               "hbm_bytes_per_ns": config.memory, "dma_fixed_ns": config.dma,
               "element_access_ns": config.memory}[parameter]
    value = getattr(section, parameter)
    better = value * factor if parameter.endswith(("_hz", "_per_ns")) else value / factor
    return with_values(config, **{parameter: better})


def times(w, params, parameter, factor):
    result = run(w.options(overrides=as_overrides(params)))
    traces = result.functional.traces
    before = simulate_timing(traces, result.config, record_timeline=False).simulated_ns
    after = simulate_timing(traces, improved(result.config, parameter, factor),
                            record_timeline=False).simulated_ns
    return before, after


@pytest.mark.parametrize("parameter", ["clock_hz", "dma_fixed_ns", "element_access_ns"])
@given(w=workloads(), params=parameters(), factor=factors)
def test_a_faster_or_cheaper_core_side_parameter_never_slows_a_kernel(parameter, w, params,
                                                                       factor):
    before, after = times(w, params, parameter, factor)
    assert after <= before * (1 + REL)


@pytest.mark.parametrize("parameter", ["dma_bytes_per_ns", "hbm_bytes_per_ns"])
@given(w=workloads(), params=parameters(), factor=factors)
def test_more_dma_bandwidth_never_slows_a_kernel(parameter, w, params, factor):
    before, after = times(w, params, parameter, factor)
    assert after <= before * (1 + REL)
