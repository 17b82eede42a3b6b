"""Our headers of the custom-operator API: values, records, dtypes, argument kinds, builds.

Kernels are functions of tests/cpp_kernels/api/api.cpp (one build for all); expected values
come from NumPy.
"""
import os
import stat
import time

import ml_dtypes
import numpy as np
import pytest

from cpp_kernels.shared import kernel, line_of, run
from gpsimd_sim.cpp import load_cpp_kernel, toolchain
from gpsimd_sim.errors import ConfigError, KernelFault
from gpsimd_sim.records import Alloc, ElementRun, Free, StreamAccess, StreamTransfer, TensorOp

API = "tests/cpp_kernels/api/api.cpp"
RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 50)).astype(np.float32)
POS = np.abs(X) + np.float32(0.5)


def records(out, kind):
    return [r for r in out.traces[0].records if type(r) is kind]


def test_parameter_kinds_come_from_the_kernel_signature():
    assert kernel(API, op="scaled").params == [
        ("t", "tensor"), ("a", "double"), ("b", "int64"), ("c", "scalar")]


def test_double_int64_and_scalar_arguments_are_passed_in_order():
    k = kernel(API, op="scaled")
    t = X.reshape(-1)
    v = t.astype(np.float64) * 1.5 + 2  # float * double + int64: computed in double
    np.testing.assert_array_equal(run(k, [t, 1.5, 2, 0.5]).output, v.astype(np.float32))
    np.testing.assert_array_equal(run(k, [t, 1.5, 2, 3]).output,
                                  np.trunc(v.astype(np.float32)).astype(np.float32))


def test_a_tensor_where_a_number_belongs_is_a_config_error():
    with pytest.raises(ConfigError, match="argument a of scaled is a double"):
        run(kernel(API, op="scaled"), [X.reshape(-1), X, 2, 3])


@pytest.mark.parametrize("which,ref", list(enumerate([
    np.abs, np.ceil, np.floor, np.sin, np.cos, np.tan, np.log, np.log2, np.log10, np.exp])))
def test_unary_tensor_op_computes_numpy_and_records_one_tensor_op(which, ref):
    out = run(kernel(API, op="unary"), [POS, which])
    np.testing.assert_allclose(out.output, ref(POS), rtol=2e-6)
    (op,) = records(out, TensorOp)
    assert (op.op, op.elements, op.elem_bytes, op.bytes_in, op.bytes_out) == (
        ref.__name__.replace("absolute", "abs"), POS.size, 4, POS.nbytes, POS.nbytes)


@pytest.mark.parametrize("which,ref,name", [
    (0, lambda a, b: a + 2 * b, "add"), (1, lambda a, b: a - b, "sub"),
    (2, lambda a, b: a * b, "mul"), (3, lambda a, b: a / b, "div"),
    (4, lambda a, b: a ** 2, "pow"), (5, lambda a, b: a + np.float32(1.5), "add")])
def test_binary_tensor_op_computes_numpy_and_records_it_by_its_name(which, ref, name):
    b = POS[::-1].copy()
    out = run(kernel(API, op="binary"), [POS, b, which])
    np.testing.assert_allclose(out.output, ref(POS, b), rtol=1e-6)
    assert records(out, TensorOp)[-1].op == name


def test_bitwise_ops_on_int32_tensors():
    a = RNG.integers(-100, 100, (4, 9)).astype(np.int32)
    b = RNG.integers(-100, 100, (4, 9)).astype(np.int32)
    k = kernel(API, op="binary")
    for which, ref in ((6, np.bitwise_and), (7, np.bitwise_or), (8, lambda a, b: ~a)):
        np.testing.assert_array_equal(run(k, [a, b, which]).output, ref(a, b))


def test_bitwise_op_on_floats_is_a_fault():
    with pytest.raises(KernelFault, match="bitwise_and: bitwise ops need integer tensors, got float32"):
        run(kernel(API, op="binary"), [X, X, 6])


def test_integer_div_rounds_toward_zero_as_cpp():
    a = np.array([[7, -7, 9, -9]], np.int32)
    b = np.array([[2, 2, -4, -4]], np.int32)
    np.testing.assert_array_equal(run(kernel(API, op="binary"), [a, b, 3]).output,
                                  np.array([[3, -3, -2, 2]], np.int32))


def test_tensor_op_on_operands_of_two_shapes_is_a_fault():
    with pytest.raises(KernelFault, match=r"sub: operands of shapes \[6, 50\] and \[50, 6\] "
                                          r"\(the tensor ops do not broadcast\)"):
        run(kernel(API, op="binary"), [X, X.T.copy(), 1])


def test_clamp_with_double_bounds():
    np.testing.assert_array_equal(run(kernel(API, op="clamped"), [X, -0.25, 0.5]).output,
                                  np.clip(X, np.float32(-0.25), np.float32(0.5)))


def test_full_ones_eye_and_fill_make_their_values_and_fills():
    out = run(kernel(API, op="factories"), [X])
    np.testing.assert_array_equal(out.output, 3.5 - np.eye(*X.shape, dtype=np.float32))
    fills = [r for r in out.traces[0].records if type(r).__name__ == "Fill"]
    assert [f.tensor for f in fills] == ["full#0", "ones#1", "eye#2"]
    assert [r.op for r in records(out, TensorOp)] == ["fill_", "add", "sub"]


def test_float16_through_element_accessors():
    x = X.astype(np.float16)
    out = run(kernel(API, op="half_relu"), [x])
    assert out.output.dtype == np.float16
    np.testing.assert_array_equal(out.output, np.where(x > 0, x, np.float16(0)))


def test_bfloat16_through_tcm():
    x = X.astype(ml_dtypes.bfloat16)
    out = run(kernel(API, op="bf16_relu_tcm"), [x])
    assert out.output.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(out.output.astype(np.float32),
                                  np.maximum(x.astype(np.float32), 0))
    dma = next(r for r in out.traces[0].records if type(r).__name__ == "Dma")
    assert dma.nbytes == dma.count * 2


def test_int32_streams_refill_and_flush_one_buffer_at_a_time():
    x = RNG.integers(-1000, 1000, (3, 1500)).astype(np.int32)
    out = run(kernel(API, op="int_double_stream"), [x])
    np.testing.assert_array_equal(out.output, 2 * x)
    per_buffer = 4096 // 4
    refills = [r for r in records(out, StreamTransfer) if r.direction == "refill"]
    flushes = [r for r in records(out, StreamTransfer) if r.direction == "flush"]
    assert [r.count for r in refills] == [per_buffer] * (x.size // per_buffer) + [x.size % per_buffer]
    assert sum(r.count for r in flushes) == x.size
    accesses = records(out, StreamAccess)
    assert sum(a.reads for a in accesses) == sum(a.writes for a in accesses) == x.size
    assert [r.nbytes for r in records(out, Alloc)] == [4096, 4096]
    assert len(records(out, Free)) == 2


def test_a_fifth_stream_takes_the_element_wise_path():
    x = X.reshape(-1)
    out = run(kernel(API, op="five_streams"), [x])
    np.testing.assert_allclose(out.output, x, atol=1e-6)
    assert len(records(out, Alloc)) == 4  # the fifth read stream and the write stream: no buffer
    assert sum(r.reads for r in records(out, ElementRun)) == x.size
    assert sum(r.writes for r in records(out, ElementRun)) == x.size


def test_fewer_fast_streams_send_more_streams_element_wise():
    out = run(kernel(API, op="five_streams"), [X.reshape(-1)], fast_streams=2)
    assert len(records(out, Alloc)) == 2


def test_write_stream_on_a_tensor_with_an_open_read_stream_is_a_fault():
    with pytest.raises(KernelFault) as e:
        run(kernel(API, op="incoherent"), [X])
    assert str(e.value).startswith(f"{API}:{line_of(API, 'FAULT: incoherent')}: core 0: "
                                   "write_stream_accessor on tensor zeros#0 while a read stream")


def test_reading_a_stream_past_its_end_is_a_fault():
    with pytest.raises(KernelFault) as e:
        run(kernel(API, op="read_past_end"), [X])
    assert str(e.value).startswith(f"{API}:{line_of(API, 'FAULT: read_past_end')}: core 0: "
                                   f"read past the end: read() of element {X.size}")


def test_tcm_transfer_of_the_wrong_element_type_is_a_fault():
    with pytest.raises(KernelFault, match=r"tensor_to_tcm<int32> on tensor t_in of float32"):
        run(kernel(API, op="wrong_dtype"), [X])


def test_tcm_malloc_beyond_the_pool_returns_null_and_offsets_follow_first_fit():
    out = run(kernel(API, op="pool_exhausted"), [X])
    allocs = records(out, Alloc)
    assert [(a.buffer, a.nbytes, a.ok) for a in allocs] == [
        (0, 12000, True), (1, 8000, False), (2, 100, True)]
    assert out.traces[0].malloc_failures == 1
    assert out.traces[0].tcm_peak_bytes == 12032
    assert [(f.buffer, f.nbytes) for f in records(out, Free)] == [(-1, 0), (0, 12000), (2, 100)]


def test_inputs_are_not_modified():
    before = X.copy()
    run(kernel(API, op="factories"), [X])
    np.testing.assert_array_equal(X, before)


def test_output_spec_comes_from_the_shape_function():
    k = kernel("kernels/cpp/api-add-stream/add.cpp")
    shape, dtype = k.output_spec([np.zeros((3, 7), np.int32), np.zeros((3, 7), np.int32)])
    assert (shape, dtype) == ((3, 7), np.dtype(np.float32))


def test_output_spec_without_a_shape_file_is_the_first_tensors():
    assert kernel(API, op="half_relu").output_spec([X.astype(np.float16)]) == \
        (X.shape, np.dtype(np.float16))


def test_a_second_load_compiles_nothing():
    load_cpp_kernel("kernels/cpp/neuron-tcm/relu.cpp")  # built (once) if it was not
    start = time.perf_counter()
    k = load_cpp_kernel("kernels/cpp/neuron-tcm/relu.cpp")
    assert time.perf_counter() - start < 1.0
    assert k.compiler.startswith(("g++ ", "clang++ "))


def test_the_build_cache_is_readable_only_by_its_owner():
    mode = stat.S_IMODE(os.stat(toolchain.cache_root()).st_mode)
    assert mode & 0o077 == 0
