"""Found bugs: hypothesis, told only "the published multicore kernel must not fault", finds
its offset bug by itself, and the simulator reports it as an out-of-bounds access.

The published kernel (tests/kernels/relu_multicore_published.py) enlarges ``partition`` on the
last core before using it in the offset ``partition * cpu_id + i``.
"""
import pytest
from conftest import KERNELS, POOL_FLOATS, Workload, shapes
from hypothesis import find, given, settings
from hypothesis import strategies as st

from gpsimd_sim.errors import KernelFault
from gpsimd_sim.simulation import run


@st.composite
def published_runs(draw):
    shape = draw(shapes(max_numel=256))
    return Workload("multicore", shape, buffer_size=draw(st.integers(1, POOL_FLOATS)),
                    cores=draw(st.integers(1, 8)))


def fault_of(w: Workload) -> str | None:
    """The published kernel's fault message on ``w``, or None if it ran."""
    try:
        run(w.options(kernel=KERNELS["published"]))
    except KernelFault as exc:
        return str(exc)
    return None


def test_hypothesis_finds_the_offset_bug_at_a_size_the_cores_do_not_divide():
    found = find(published_runs(), lambda w: fault_of(w) is not None,
                 settings=settings(max_examples=500, database=None, derandomize=True))
    assert found.numel % found.cores != 0
    message = fault_of(found)
    assert "out-of-bounds tensor_to_tcm" in message
    assert f"core {found.cores - 1}:" in message  # the last core, whose partition grew


@st.composite
def published_runs_where_the_cores(draw, divide: bool):
    """1-D runs whose size the core count divides (``divide``) or leaves a remainder."""
    cores = draw(st.integers(1 if divide else 2, 8))
    quotient = draw(st.integers(1 if divide else 0, 64))
    remainder = 0 if divide else draw(st.integers(1, cores - 1))
    return Workload("multicore", (quotient * cores + remainder,), cores=cores,
                    buffer_size=draw(st.integers(1, POOL_FLOATS)))


@given(published_runs_where_the_cores(divide=True))
def test_published_kernel_is_correct_when_the_cores_divide_the_size(w):
    """The bug's true extent: with numel a multiple of the core count it never shows."""
    assert run(w.options(kernel=KERNELS["published"])).functional.correct


@given(published_runs_where_the_cores(divide=False))
def test_published_kernel_always_faults_when_the_cores_do_not_divide_the_size(w):
    with pytest.raises(KernelFault, match="out-of-bounds"):
        run(w.options(kernel=KERNELS["published"]))
