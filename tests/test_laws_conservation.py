"""Conservation laws: what the records say was moved, allocated and accessed is exactly what
the kernel's calls imply, and the timing stage replays exactly what was recorded."""
import numpy as np
from conftest import Workload, workloads
from hypothesis import given
from hypothesis import strategies as st

from gpsimd_sim.api.dtypes import DTYPES
from gpsimd_sim.functional.inputs import make_inputs
from gpsimd_sim.records import Alloc, Compute, Dma, ElementRun, Fill, Free
from gpsimd_sim.simulation import run
from gpsimd_sim.timing.costs import fill_chunks

TCM_ALIGN = 64  # the pool hands out whole 512-bit lines


def positives(w: Workload) -> int:
    x = make_inputs(1, w.shape, DTYPES[w.dtype], w.seed)[0]
    return int((x > 0).sum())


def records(trace, kind):
    return [r for r in trace.records if type(r) is kind]


@given(workloads())
def test_dma_transfers_are_exactly_the_kernels_block_copies(w):
    """Each core copies its share in and out in ceil(share / buffer) blocks of 4-byte floats;
    a ``zeros()`` output costs one fill of the whole tensor; nothing else moves."""
    result = run(w.options())
    shares = [count for _, count in w.partitions()]
    for trace, share in zip(result.functional.traces, shares):
        for direction in ("to_tcm", "to_tensor"):
            moved = [r for r in records(trace, Dma) if r.direction == direction]
            if w.kernel == "elementwise":
                assert moved == []
                continue
            assert len(moved) == -(-share // w.buffer_size)
            assert sum(r.count for r in moved) == share
            assert sum(r.nbytes for r in moved) == 4 * share
        fills = [r.nbytes for r in records(trace, Fill)]
        assert fills == ([] if w.kernel == "multicore" else [4 * w.numel])
    d = result.to_dict()
    assert d["dma_bytes"] == (0 if w.kernel == "elementwise" else 8 * w.numel)
    assert d["fills"] == (0 if w.kernel == "multicore" else 1)


@given(workloads(), st.sampled_from([[], ["dma_queues=1"], ["hbm_bytes_per_ns=5"]]))
def test_timing_moves_exactly_the_recorded_bytes(w, contention):
    """Contention may delay transfers but never drops or duplicates one (a ``zeros()`` fill
    is replayed as the preset's fill chunks, which add up to the fill)."""
    result = run(w.options(overrides=contention))
    for trace, timing in zip(result.functional.traces, result.timing.cores):
        fills = [fill_chunks(r.nbytes, result.config) for r in records(trace, Fill)]
        assert all(sum(chunks) == r.nbytes for chunks, r in zip(fills, records(trace, Fill)))
        copies = records(trace, Dma)
        assert timing.transfers == len(copies) + sum(len(chunks) for chunks in fills)
        assert timing.bytes == sum(r.nbytes for r in copies + records(trace, Fill))


def replay_tcm(trace):
    """Bytes of TCM in use after each Alloc/Free record of one core, in program order."""
    in_use, history = 0, []
    for r in trace.records:
        if type(r) is Alloc and r.ok:
            in_use += -(-r.nbytes // TCM_ALIGN) * TCM_ALIGN
        elif type(r) is Free and r.nbytes:
            in_use -= -(-r.nbytes // TCM_ALIGN) * TCM_ALIGN
        history.append(in_use)
    return history


@given(workloads(kernels=("tcm", "multicore")), st.integers(0, 65536))
def test_shipped_kernels_never_use_more_tcm_than_the_pool(w, pool):
    result = run(w.options(overrides=[f"tcm_pool_bytes={pool}", "tcm_bytes=65536"]))
    for trace in result.functional.traces:
        history = replay_tcm(trace)
        assert all(0 <= used <= pool for used in history)
        assert history[-1] == 0, "every buffer is freed by the end"
        assert trace.tcm_peak_bytes == max(history) <= pool
        # one buffer: it fits exactly when its aligned size fits the pool
        (alloc,) = records(trace, Alloc)
        assert alloc.ok == (-(-alloc.nbytes // TCM_ALIGN) * TCM_ALIGN <= pool)


STRESS_KERNEL = '''
from gpsimd_sim.api import float32, kernel, tcm_free, tcm_malloc

OPS = {ops!r}


@kernel(reference=lambda x: x)
def stress(t_in):  # reaches into the buffers' memory (_array) on purpose: a test of the pool
    live = []
    for op, arg in OPS:
        if op == "malloc":
            buf = tcm_malloc(arg, float32)
            if buf is not None:
                buf._array[:] = buf.id  # a live buffer's bytes must survive other allocations
                live.append(buf)
        elif live:
            buf = live.pop(arg % len(live))
            assert (buf._array == buf.id).all(), f"buffer {{buf.id}} was overwritten"
            tcm_free(buf)
    for buf in live:
        assert (buf._array == buf.id).all(), f"buffer {{buf.id}} was overwritten"
    return t_in
'''

operations = st.lists(st.one_of(
    st.tuples(st.just("malloc"), st.integers(1, 2048).map(lambda n: 4 * n)),
    st.tuples(st.just("free"), st.integers(0, 100))), max_size=40)


@given(ops=operations)
def test_any_malloc_free_sequence_stays_within_the_pool_without_aliasing(tmp_path_factory, ops):
    """First-fit allocation, frees in any order: the pool is never overfilled, and no two live
    buffers share bytes (the kernel checks its own buffers' contents and faults otherwise)."""
    path = tmp_path_factory.mktemp("stress") / "stress.py"
    path.write_text(STRESS_KERNEL.format(ops=ops))
    result = run(Workload("tcm", (4,)).options(kernel=str(path)))
    pool = result.config.tcm.tcm_pool_bytes
    (trace,) = result.functional.traces
    history = replay_tcm(trace)
    assert all(0 <= used <= pool for used in history)
    assert trace.tcm_peak_bytes == max(history, default=0)
    assert trace.malloc_failures == sum(1 for r in records(trace, Alloc) if not r.ok)


@given(workloads(kernels=("elementwise",)))
def test_element_accesses_equal_the_accessor_calls_made(w):
    """``out[i][j] = in[i][j] if in[i][j] > 0 else 0``: every element is read once for the
    compare and again when positive, and written once."""
    result = run(w.options())
    (trace,) = result.functional.traces
    runs = records(trace, ElementRun)
    n, pos = w.numel, positives(w)
    assert sum(r.reads for r in runs) == n + pos
    assert sum(r.writes for r in runs) == n
    assert result.to_dict()["element_accesses"] == 2 * n + pos


@given(workloads(kernels=("tcm", "multicore")))
def test_tcm_kernels_make_no_element_accesses_and_count_every_tcm_access(w):
    """The compiled ReLU block loads each element once (twice when positive) and stores it
    once: the counted TCM loads and stores are exactly those."""
    result = run(w.options())
    traces = result.functional.traces
    assert not any(records(tr, ElementRun) for tr in traces)
    computes = [r for tr in traces for r in records(tr, Compute)]
    assert sum(r.ops["iterations"] for r in computes) == w.numel
    assert sum(r.tcm_stores for r in computes) == w.numel
    assert sum(r.tcm_loads for r in computes) == w.numel + positives(w)
    assert np.array_equal(result.functional.output, result.functional.expected)
