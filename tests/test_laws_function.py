"""Function laws: every shipped kernel computes NumPy's ReLU, and TCM kernels write each
output element exactly once, for any valid shape, buffer size, core count and dtype."""
import numpy as np
import pytest
from conftest import Workload, shapes, workloads
from hypothesis import given
from hypothesis import strategies as st

from gpsimd_sim.api.dtypes import DTYPES
from gpsimd_sim.errors import KernelFault
from gpsimd_sim.functional.inputs import make_inputs
from gpsimd_sim.records import Dma
from gpsimd_sim.simulation import run


def numpy_relu(w: Workload) -> np.ndarray:
    """ReLU of the run's seeded input, computed here with NumPy alone."""
    x = make_inputs(1, w.shape, DTYPES[w.dtype], w.seed)[0]
    return np.where(x > 0, x, 0).astype(x.dtype)


@given(workloads(kernels=("elementwise", "tcm", "multicore", "any_dtype")))
def test_every_kernel_output_equals_numpy(w):
    result = run(w.options())
    expected = numpy_relu(w)
    assert result.functional.correct
    # ReLU only copies or zeroes, so the bits must match, not just agree within a tolerance
    assert result.functional.output.dtype == expected.dtype
    assert result.functional.output.tobytes() == expected.tobytes()


@given(workloads(kernels=("tcm", "multicore", "any_dtype")))
def test_tcm_kernels_write_every_output_element_exactly_once(w):
    result = run(w.options())
    spans = sorted((r.offset, r.offset + r.count) for tr in result.functional.traces
                   for r in tr.records if type(r) is Dma and r.direction == "to_tensor")
    covered = 0
    for start, end in spans:
        assert start == covered, f"gap or overlap at element {min(start, covered)}"
        covered = end
    assert covered == w.numel


@given(w=workloads(kernels=("multicore",)))
def test_each_core_writes_only_its_own_partition(w):
    result = run(w.options())
    for trace, (offset, count) in zip(result.functional.traces, w.partitions()):
        written = sum(r.count for r in trace.records
                      if type(r) is Dma and r.direction == "to_tensor")
        assert written == count
        assert all(offset <= r.offset and r.offset + r.count <= offset + count
                   for r in trace.records if type(r) is Dma)


@pytest.mark.parametrize("kernel", ["tcm", "multicore"])
@given(shape=shapes(max_numel=64),
       dtype=st.sampled_from([d for d in DTYPES if d != "float32"]))
def test_tcm_kernels_refuse_other_dtypes_with_a_fault_naming_both(kernel, shape, dtype):
    """The shipped TCM kernels allocate float32 buffers; a float16 (or integer) tensor
    cannot be copied into them, and the simulator says so rather than reinterpreting bytes."""
    with pytest.raises(KernelFault, match=f"is float32, tensor t_in is {dtype}"):
        run(Workload(kernel, shape, dtype=dtype, cores=1 if kernel == "multicore" else None)
            .options())


# -- races between cores ---------------------------------------------------------------------

from types import SimpleNamespace  # noqa: E402

from gpsimd_sim.api.tensor import Tensor, claim, find_race  # noqa: E402

WRITES = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 10),
                            st.integers(0, 2)), max_size=40)   # (core, offset, count, line)


@given(WRITES)
def test_a_race_is_reported_at_the_lowest_element_two_cores_wrote(writes):
    t = Tensor(np.zeros(64, np.float32), "t")
    writers: dict[int, set] = {}
    for core, offset, n, line in writes:
        claim(SimpleNamespace(core_id=core, order=core, written=None), t, offset, n, line)
        for element in range(offset, offset + n):
            writers.setdefault(element, set()).add(core)
    shared = [e for e, cores in writers.items() if len(cores) > 1]
    race = find_race(t, "k.py")
    if not shared:
        assert race is None
    else:
        assert f"element {min(shared)} written" in str(race)
