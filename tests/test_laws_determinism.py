"""Determinism laws: the same inputs and seed give identical cycles and identical output bits,
whatever order the functional stage runs the cores in (the shipped kernels are race-free).

These call the two stages directly, not ``run``: ``run`` reuses a cached functional result
for identical inputs, which would make a repeat trivially identical.
"""
from conftest import Workload, workloads
from hypothesis import given
from hypothesis import strategies as st

from gpsimd_sim.api.dtypes import DTYPES
from gpsimd_sim.config.presets import load_config
from gpsimd_sim.functional.executor import run_functional
from gpsimd_sim.functional.inputs import make_inputs
from gpsimd_sim.functional.loader import load_kernel
from gpsimd_sim.functional.plan import ExecPlan
from gpsimd_sim.simulation import resolve_cores
from gpsimd_sim.timing.engine import simulate_timing

CONFIG, _ = load_config("trn1")


def simulate_afresh(w: Workload, core_order=None):
    """Both stages from scratch: (output bytes, simulated ns, per-core end times)."""
    kernel = load_kernel(w.options().kernel)
    inputs = make_inputs(1, w.shape, DTYPES[w.dtype], w.seed)
    cores = resolve_cores(kernel, w.cores, CONFIG)
    plan = ExecPlan.for_config(CONFIG, cores, buffer_size=w.buffer_size,
                               core_order=tuple(core_order) if core_order else None)
    functional = run_functional(kernel, inputs, plan)
    timing = simulate_timing(functional.traces, CONFIG, record_timeline=False)
    return (functional.output.tobytes(), timing.simulated_ns,
            [core.end_ns for core in timing.cores])


@given(workloads())
def test_same_inputs_and_seed_give_identical_cycles_and_output_bits(w):
    assert simulate_afresh(w) == simulate_afresh(w)


@st.composite
def multicore_runs_in_any_core_order(draw):
    w = draw(workloads(kernels=("multicore",)))
    return w, draw(st.permutations(range(w.cores)))


@given(multicore_runs_in_any_core_order())
def test_core_order_changes_neither_cycles_nor_output_bits(run_and_order):
    w, order = run_and_order
    assert simulate_afresh(w, core_order=list(order)) == simulate_afresh(w)
