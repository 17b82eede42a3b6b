"""The shipped kernels compute ReLU exactly, and the counts they report follow from their code.

Runs are in-process on inputs the tests make themselves, so the expected output is computed
here (`np.where(x > 0, x, 0)`), independently of the simulator's own reference check.
"""
import math
from pathlib import Path

import numpy as np
import pytest

from gpsimd_sim.config import load_config
from gpsimd_sim.errors import KernelFault
from gpsimd_sim.functional.loader import load_kernel
from gpsimd_sim.records import Compute, Dma
from gpsimd_sim.simulation import RunOptions, simulate_loaded

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "kernels"
ELEMENTWISE = str(KERNELS / "relu_elementwise.py")
TCM = str(KERNELS / "relu_tcm.py")
MULTICORE = str(KERNELS / "relu_multicore.py")
ANY_DTYPE = str(ROOT / "tests" / "kernels" / "relu_tcm_any_dtype.py")

SHAPES = [(1, 1), (3, 5), (7, 13), (1, 4097)]
BUFFERS = [1, 7, 1024]
TCM_ALLOC_UNIT = 64  # bytes: TCM allocations are whole 512-bit lines


def shape_id(shape):
    return "x".join(map(str, shape))


def make_input(shape, dtype=np.float32, seed=0):
    """Standard-normal values with some exact zeros, so both sides of `> 0` are exercised."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind in "iu":
        x = np.round(x * 16)
    x.flat[::5] = 0.0
    return x.astype(dtype)


def relu(x):
    return np.where(x > 0, x, np.zeros((), x.dtype))


def simulate(kernel, x, cores=None, buffer_size=None, overrides=()):
    config, provenance = load_config("trn1", list(overrides))
    options = RunOptions(kernel=kernel, shape=x.shape, cores=cores, buffer_size=buffer_size,
                         dtype=x.dtype.name)
    return simulate_loaded(load_kernel(kernel), [x.copy()], config, provenance, options)


# -- output equals NumPy -------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_elementwise_kernel_output_equals_numpy(shape):
    x = make_input(shape)
    result = simulate(ELEMENTWISE, x)
    np.testing.assert_array_equal(result.functional.output, relu(x))
    assert result.functional.correct


@pytest.mark.parametrize("buffer_size", BUFFERS)
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_tcm_kernel_output_equals_numpy(shape, buffer_size):
    x = make_input(shape)
    result = simulate(TCM, x, buffer_size=buffer_size)
    np.testing.assert_array_equal(result.functional.output, relu(x))
    assert result.functional.correct


@pytest.mark.parametrize("cores", range(1, 9))
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_multicore_kernel_output_equals_numpy_for_every_core_count(shape, cores):
    x = make_input(shape)
    result = simulate(MULTICORE, x, cores=cores, buffer_size=7)
    np.testing.assert_array_equal(result.functional.output, relu(x))
    assert result.functional.correct


@pytest.mark.parametrize("buffer_size", BUFFERS)
def test_multicore_kernel_output_equals_numpy_for_every_buffer_size(buffer_size):
    x = make_input((7, 13))
    result = simulate(MULTICORE, x, cores=8, buffer_size=buffer_size)
    np.testing.assert_array_equal(result.functional.output, relu(x))


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.int8])
def test_tcm_loop_output_equals_numpy_for_other_dtypes(dtype):
    x = make_input((7, 13), dtype)
    result = simulate(ANY_DTYPE, x, buffer_size=7)
    assert result.functional.output.dtype == x.dtype
    np.testing.assert_array_equal(result.functional.output, relu(x))


def test_float32_tcm_buffer_refuses_a_float16_tensor():
    # relu_tcm.py is float32 only, as the C++ is (float *tcm_buffer): the copy must not
    # silently convert.
    with pytest.raises(KernelFault, match="float32.*float16"):
        simulate(TCM, make_input((3, 5), np.float16))


# -- counts the code implies ---------------------------------------------------------------

@pytest.mark.parametrize("buffer_size", BUFFERS)
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_tcm_kernel_makes_two_transfers_per_buffer_and_moves_every_byte_twice(shape, buffer_size):
    x = make_input(shape)
    n = x.size
    d = simulate(TCM, x, buffer_size=buffer_size).to_dict()
    assert d["dma_transfers"] == 2 * math.ceil(n / buffer_size)
    assert d["dma_bytes"] == 2 * n * x.itemsize


@pytest.mark.parametrize("cores", [1, 3, 8])
@pytest.mark.parametrize("shape", [(3, 5), (1, 4097)], ids=shape_id)
def test_multicore_kernel_transfers_follow_each_cores_partition(shape, cores):
    x = make_input(shape)
    n, buffer_size = x.size, 7
    base = n // cores
    partitions = [base] * (cores - 1) + [n - base * (cores - 1)]
    per_core = simulate(MULTICORE, x, cores=cores, buffer_size=buffer_size).to_dict()["per_core"]
    assert [c["dma_transfers"] for c in per_core] == [2 * math.ceil(p / buffer_size)
                                                       for p in partitions]
    assert [c["dma_bytes"] for c in per_core] == [2 * p * x.itemsize for p in partitions]


@pytest.mark.parametrize("buffer_size", [1, 7, 64])
def test_tcm_kernel_records_each_blocks_own_work_though_calls_share_records(buffer_size):
    # calls that did the same work share one record (issue 14): each call's record must
    # still be its own block's: a load to compare, a second for a positive value, a store
    x = make_input((40, 64))
    traces = simulate(TCM, x, buffer_size=buffer_size).functional.traces
    computes = [r for r in traces[0].records if type(r) is Compute]
    flat = x.ravel()
    blocks = [flat[i:i + buffer_size] for i in range(0, flat.size, buffer_size)]
    assert [(c.ops["iterations"], c.tcm_loads, c.tcm_stores) for c in computes] == \
        [(b.size, b.size + int((b > 0).sum()), b.size) for b in blocks]
    assert len({id(c) for c in computes}) < len(computes)   # shared, not made anew


def test_each_record_names_the_kernel_line_of_the_call_that_made_it():
    # lines are remembered per call site (issue 14): calls alternate between two sites
    path = ROOT / "tests" / "kernels" / "lines_of_calls.py"
    source = path.read_text().splitlines()

    def line(marker):
        return next(i for i, text in enumerate(source, 1) if marker in text)

    result = simulate(str(path), make_input((4, 8)))
    assert result.functional.check.correct
    got = [(type(r).__name__, getattr(r, "direction", ""), r.line)
           for r in result.functional.traces[0].records if type(r) in (Compute, Dma)]
    direct = [("Dma", "to_tcm", line("DIRECT IN")), ("Compute", "", line("DIRECT LOOP")),
              ("Dma", "to_tensor", line("DIRECT OUT"))]
    helper = [("Dma", "to_tcm", line("HELPER IN")), ("Compute", "", line("HELPER LOOP")),
              ("Dma", "to_tensor", line("HELPER OUT"))]
    assert got == (direct + helper) * 4


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_elementwise_kernel_reads_each_element_once_more_when_positive_and_writes_it_once(shape):
    # As published: compare (one read), copy a positive value (a second read), write.
    x = make_input(shape)
    n, positives = x.size, int((x > 0).sum())
    d = simulate(ELEMENTWISE, x).to_dict()
    assert d["element_accesses"] == (n + positives) + n
    assert d["dma_transfers"] == 0


def test_elementwise_kernel_zero_fills_its_output_once():
    d = simulate(ELEMENTWISE, make_input((3, 5))).to_dict()
    assert d["fills"] == 1


def test_multicore_kernel_writes_get_dst_tensor_without_a_fill():
    d = simulate(MULTICORE, make_input((3, 5)), cores=8).to_dict()
    assert d["fills"] == 0


@pytest.mark.parametrize("buffer_size", [1, 7, 16, 17, 1024])
def test_tcm_peak_is_the_buffer_rounded_up_to_the_allocation_unit(buffer_size):
    x = make_input((3, 5))
    d = simulate(TCM, x, buffer_size=buffer_size).to_dict()
    nbytes = buffer_size * x.itemsize
    assert d["tcm_peak_bytes"] == math.ceil(nbytes / TCM_ALLOC_UNIT) * TCM_ALLOC_UNIT


def test_elementwise_kernel_allocates_no_tcm():
    assert simulate(ELEMENTWISE, make_input((3, 5))).to_dict()["tcm_peak_bytes"] == 0


def test_failing_tcm_malloc_leaves_the_zero_filled_output_and_is_reported_wrong():
    x = make_input((3, 5))
    pool = load_config("trn1")[0].tcm.tcm_pool_bytes
    too_big = pool // x.itemsize + 1
    result = simulate(TCM, x, buffer_size=too_big)
    d = result.to_dict()
    assert d["tcm_malloc_failures"] == 1 and d["dma_transfers"] == 0
    np.testing.assert_array_equal(result.functional.output, np.zeros_like(x))
    assert d["correct"] is False
    assert d["wrong_elements"] == int((x > 0).sum())
