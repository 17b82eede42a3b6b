"""Stream accessors: exact data in order, one DMA per 4 KiB buffer, and every misuse named.

The shipped kernel (`kernels/relu_stream.py`) is run on sizes around the 1024-float buffer;
misuses are small kernels written into a temporary folder, run in-process. Expected values
(NumPy ReLU, buffer counts, lines in the kernel files) are computed here, not typed in.
"""
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gpsimd_sim.api.stream import STREAM_BUFFER_BYTES
from gpsimd_sim.config import load_config
from gpsimd_sim.errors import KernelFault
from gpsimd_sim.functional.loader import load_kernel
from gpsimd_sim.records import Compute, Dma, ElementRun, StreamAccess, StreamTransfer
from gpsimd_sim.simulation import RunOptions, simulate_loaded

ROOT = Path(__file__).resolve().parents[1]
STREAM = str(ROOT / "kernels" / "relu_stream.py")
SIZES = [1, 1023, 1024, 1025, 4097]
FLOATS_PER_BUFFER = STREAM_BUFFER_BYTES // 4


def make_input(n, seed=0):
    """Standard-normal float32 values with some exact zeros."""
    x = np.random.default_rng(seed).standard_normal(n)
    x[::5] = 0.0
    return x.astype(np.float32)


def relu(x):
    return np.where(x > 0, x, np.float32(0))


def simulate(kernel, x, overrides=()):
    config, provenance = load_config("trn1", list(overrides))
    options = RunOptions(kernel=kernel, shape=x.shape, dtype=x.dtype.name)
    return simulate_loaded(load_kernel(kernel), [x.copy()], config, provenance, options)


def records(result, kind):
    return [r for r in result.functional.traces[0].records if type(r) is kind]


def write_kernel(tmp_path, body, multicore=False, name="kernel.py"):
    """A kernel file whose `relu_forward(t_in)` body is ``body``; returns its path."""
    path = tmp_path / name
    path.write_text(
        "from gpsimd_sim.api import empty, float32, float16, get_dst_tensor, kernel, tcm_malloc\n"
        "KEPT = []\n\n"
        f"@kernel(reference='relu', multicore={multicore})\n"
        "def relu_forward(t_in):\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return str(path)


def relu_through_streams(after: str = "") -> str:
    """A ReLU body through one read and one write stream, opened after the statements
    ``after`` (e.g. a tcm_malloc that takes part of the pool first)."""
    return textwrap.dedent(after) + textwrap.dedent("""
        t_out = empty(t_in.sizes(), float32)
        rd = t_in.read_stream_accessor(float32)
        wr = t_out.write_stream_accessor(float32)
        for i in range(t_in.numel()):
            v = rd.read()
            wr.write(v if v > 0.0 else 0.0)
        rd.close()
        wr.close()
        return t_out
    """)


def line_of(path, text):
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def fault(path, x):
    """Run ``path``, which must fail with one KernelFault line; return the message."""
    with pytest.raises(KernelFault) as info:
        simulate(path, x)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- the shipped kernel -----------------------------------------------------------------------

@pytest.mark.parametrize("n", SIZES)
def test_stream_kernel_output_equals_numpy(n):
    x = make_input(n)
    result = simulate(STREAM, x)
    np.testing.assert_array_equal(result.functional.output, relu(x))
    assert result.functional.correct


@pytest.mark.parametrize("n", SIZES)
def test_stream_kernel_moves_one_dma_per_buffer_each_way(n):
    result = simulate(STREAM, make_input(n))
    dmas = records(result, StreamTransfer)
    buffers = math.ceil(n / FLOATS_PER_BUFFER)
    assert not records(result, Dma)  # streams move data as stream refills and flushes
    for direction in ("refill", "flush"):
        mine = [d for d in dmas if d.direction == direction]
        assert len(mine) == buffers
        assert sum(d.count for d in mine) == n
        assert sum(d.nbytes for d in mine) == 4 * n
        assert [d.offset for d in mine] == [FLOATS_PER_BUFFER * k for k in range(buffers)]


@pytest.mark.parametrize("n", [1025, 4097])
def test_stream_element_work_is_one_stream_access_record_per_buffer(n):
    result = simulate(STREAM, make_input(n))
    accesses = records(result, StreamAccess)
    assert len(accesses) == 2 * math.ceil(n / FLOATS_PER_BUFFER)
    assert sum(a.reads for a in accesses) == n
    assert sum(a.writes for a in accesses) == n
    assert not records(result, Compute)  # not a compute loop: the limiter must not say so
    assert not records(result, ElementRun)


def test_stream_work_is_named_as_stream_accesses_by_the_limiter():
    result = simulate(STREAM, make_input(4097))
    d = result.to_dict()
    assert d["per_core"][0]["stream_ns"] > 0 and d["per_core"][0]["compute_ns"] == 0
    assert "split the loop" not in d["limiter"]["message"]


def test_stream_kernel_tcm_peak_is_its_two_stream_buffers():
    result = simulate(STREAM, make_input(1025))
    assert result.functional.traces[0].tcm_peak_bytes == 2 * STREAM_BUFFER_BYTES


def test_stream_buffers_add_to_the_kernels_own_tcm_use(tmp_path):
    path = write_kernel(tmp_path, relu_through_streams(after="""
        scratch = tcm_malloc(1024, float32)
    """))
    result = simulate(path, make_input(10))
    assert result.functional.correct
    assert result.functional.traces[0].tcm_peak_bytes == 1024 + 2 * STREAM_BUFFER_BYTES


# -- misuse: one line naming file, line, core, tensor, element --------------------------------

def test_reading_past_the_end_is_a_fault_naming_tensor_and_element(tmp_path):
    path = write_kernel(tmp_path, """
        rd = t_in.read_stream_accessor(float32)
        for i in range(t_in.numel() + 1):
            v = rd.read()
        return t_in
    """)
    message = fault(path, make_input(7))
    assert f"{path}:{line_of(path, 'v = rd.read()')}" in message
    assert "core 0" in message and "t_in" in message
    assert "read past the end" in message and "element 7" in message


def test_writing_past_the_end_is_a_fault_naming_tensor_and_element(tmp_path):
    path = write_kernel(tmp_path, """
        t_out = empty(t_in.sizes(), float32)
        wr = t_out.write_stream_accessor(float32)
        for i in range(t_in.numel() + 1):
            wr.write(1.0)
        return t_out
    """)
    message = fault(path, make_input(7))
    assert f"{path}:{line_of(path, 'wr.write(1.0)')}" in message
    assert "core 0" in message and "empty#0" in message
    assert "write past the end" in message and "element 7" in message


def test_writing_after_close_is_a_fault(tmp_path):
    path = write_kernel(tmp_path, """
        t_out = empty(t_in.sizes(), float32)
        wr = t_out.write_stream_accessor(float32)
        wr.write(1.0)
        wr.close()
        wr.write(2.0)
        return t_out
    """)
    message = fault(path, make_input(7))
    assert f"{path}:{line_of(path, 'wr.write(2.0)')}" in message
    assert "after close()" in message and "element 1" in message and "empty#0" in message


def test_reading_after_close_is_a_fault(tmp_path):
    path = write_kernel(tmp_path, """
        rd = t_in.read_stream_accessor(float32)
        rd.read()
        rd.close()
        rd.read()
        return t_in
    """)
    message = fault(path, make_input(7))
    assert f"{path}:{line_of(path, 'rd.read()') + 2}" in message
    assert "after close()" in message and "t_in" in message


@pytest.mark.parametrize("method", ["read_stream_accessor", "write_stream_accessor"])
def test_a_stream_in_a_multicore_kernel_is_a_fault(tmp_path, method):
    path = write_kernel(tmp_path, f"""
        t_out = get_dst_tensor()
        s = t_in.{method}(float32)
        return t_out
    """, multicore=True)
    message = fault(path, make_input(16))
    assert f"{path}:{line_of(path, method)}" in message
    assert "multicore" in message and "t_in" in message


def test_a_stream_of_another_dtype_than_its_tensor_is_a_fault(tmp_path):
    path = write_kernel(tmp_path, """
        rd = t_in.read_stream_accessor(float16)
        return t_in
    """)
    message = fault(path, make_input(7))
    assert "float16" in message and "t_in" in message and "float32" in message


def test_a_read_stream_on_a_tensor_with_an_open_write_stream_is_a_fault(tmp_path):
    path = write_kernel(tmp_path, """
        t_out = empty(t_in.sizes(), float32)
        wr = t_out.write_stream_accessor(float32)
        rd = t_out.read_stream_accessor(float32)
        return t_out
    """)
    message = fault(path, make_input(7))
    assert f"{path}:{line_of(path, 't_out.read_stream_accessor')}" in message
    assert "COHERENT" in message and "empty#0" in message


# -- closing ------------------------------------------------------------------------------------

FORGOTTEN_CLOSE = """
    t_out = empty(t_in.sizes(), float32)
    rd = t_in.read_stream_accessor(float32)
    wr = t_out.write_stream_accessor(float32)
    {keep}
    for i in range(t_in.numel()):
        v = rd.read()
        wr.write(v if v > 0.0 else 0.0)
    return t_out
"""


def test_a_write_stream_never_closed_is_flushed_when_the_kernel_returns(tmp_path):
    # C++: a stream going out of scope is closed, and closing flushes
    path = write_kernel(tmp_path, FORGOTTEN_CLOSE.format(keep="pass"))
    x = make_input(1025)
    result = simulate(path, x)
    np.testing.assert_array_equal(result.functional.output, relu(x))
    assert sum(d.count for d in records(result, StreamTransfer) if d.direction == "flush") == 1025


def test_a_write_stream_kept_alive_past_the_kernel_loses_its_unflushed_data(tmp_path):
    path = write_kernel(tmp_path, FORGOTTEN_CLOSE.format(keep="KEPT.append(wr)"))
    result = simulate(path, make_input(1025))
    assert not result.functional.correct
    assert result.functional.wrong_elements == 1025 - FLOATS_PER_BUFFER


# -- beyond four streams: the element-wise path ------------------------------------------------

FIVE_STREAMS = """
    t_out = empty(t_in.sizes(), float32)
    idle = [t_in.read_stream_accessor(float32) for _ in range({idle})]
    rd = t_in.read_stream_accessor(float32)
    wr = t_out.write_stream_accessor(float32)
    for i in range(t_in.numel()):
        v = rd.read()
        wr.write(v if v > 0.0 else 0.0)
    rd.close()
    wr.close()
    return t_out
"""


def test_streams_beyond_the_fourth_go_through_the_element_path(tmp_path):
    path = write_kernel(tmp_path, FIVE_STREAMS.format(idle=3))  # rd is the 4th, wr the 5th
    x = make_input(1025)
    result = simulate(path, x)
    np.testing.assert_array_equal(result.functional.output, relu(x))
    runs = records(result, ElementRun)
    assert sum(r.writes for r in runs) == 1025 and sum(r.reads for r in runs) == 0
    assert not [d for d in records(result, StreamTransfer) if d.direction == "flush"]
    assert result.functional.traces[0].tcm_peak_bytes == 4 * STREAM_BUFFER_BYTES


def test_a_stream_beyond_the_fourth_is_slower_per_element(tmp_path):
    fast = write_kernel(tmp_path, FIVE_STREAMS.format(idle=2), name="four.py")
    slow = write_kernel(tmp_path, FIVE_STREAMS.format(idle=3), name="five.py")
    x = make_input(4096)
    fast_ns = simulate(fast, x).timing.simulated_ns
    slow_ns = simulate(slow, x).timing.simulated_ns
    assert slow_ns > fast_ns


def test_a_stream_the_tcm_pool_cannot_hold_goes_through_the_element_path(tmp_path):
    path = write_kernel(tmp_path, relu_through_streams(after="""
        whole_pool = tcm_malloc(16384, float32)
    """))
    x = make_input(33)
    result = simulate(path, x)
    assert result.functional.correct
    runs = records(result, ElementRun)
    assert (sum(r.reads for r in runs), sum(r.writes for r in runs)) == (33, 33)
    assert not records(result, StreamTransfer)


def test_a_fifth_stream_is_unbuffered_even_when_the_pool_has_room(tmp_path):
    path = write_kernel(tmp_path, FIVE_STREAMS.format(idle=3))
    result = simulate(path, make_input(100), overrides=["tcm_pool_bytes=65536"])
    assert sum(r.writes for r in records(result, ElementRun)) == 100
    assert result.functional.traces[0].tcm_peak_bytes == 4 * STREAM_BUFFER_BYTES
