"""The tutorial's C++ kernels, unmodified, against their Python ports.

kernels/cpp/{neuron,neuron-tcm,neuron-multicore} are the published files as a user of the
samples has them (relu.cpp, shape.cpp, build.py); neuron-multicore-fixed starts every core
at the base partition. Each must give NumPy's ReLU, the same DMA transfers, bytes and
element accesses as its Python port, and a simulated time within 3% of it (the C++ compute
work is counted from the compiled code, so it may differ a little: docs/cpp.md).
"""
import numpy as np
import pytest

from cpp_kernels.shared import (CPP, kernel, line_of, python_port, relu, run, simulated_ns,
                                tally)
from gpsimd_sim.errors import KernelFault, KernelLoadError

SHAPE = (32, 4096)

PUBLISHED = [  # C++ kernel, its Python port, cores
    ("kernels/cpp/neuron/relu.cpp", "kernels/relu_elementwise.py", 1),
    ("kernels/cpp/neuron-tcm/relu.cpp", "kernels/relu_tcm.py", 1),
    ("kernels/cpp/neuron-multicore-fixed/relu.cpp", "kernels/relu_multicore.py", 8),
]
IDS = ["elementwise", "tcm", "multicore"]


@pytest.fixture(scope="module", params=PUBLISHED, ids=IDS)
def pair(request):
    cpp, py, cores = request.param
    result, args = python_port(py, SHAPE, cores if cores > 1 else None)
    k = kernel(cpp)
    return k, run(k, args, cores=cores), result, args


def test_published_kernel_output_is_numpy_relu(pair):
    _, cpp, _, args = pair
    np.testing.assert_array_equal(cpp.output, relu(args[0]))


def test_published_kernel_moves_the_same_dma_transfers_and_bytes_as_its_python_port(pair):
    _, cpp, py, _ = pair
    c, p = tally(cpp.traces), tally(py.functional.traces)
    assert (c["dma_transfers"], c["dma_bytes"]) == (p["dma_transfers"], p["dma_bytes"])


def test_published_kernel_makes_the_same_element_accesses_as_its_python_port(pair):
    _, cpp, py, _ = pair
    c, p = tally(cpp.traces), tally(py.functional.traces)
    assert (c["element_accesses"], c["element_reads"]) == \
        (p["element_accesses"], p["element_reads"])


def test_published_kernel_simulated_time_within_3_percent_of_its_python_port(pair):
    _, cpp, py, _ = pair
    assert simulated_ns(cpp.traces) == pytest.approx(py.simulated_ns, rel=0.03)


def test_published_kernel_records_name_tensors_like_the_python_port(pair):
    _, cpp, py, _ = pair
    names = lambda traces: sorted({getattr(r, "tensor", None) for t in traces for r in t.records}
                                  - {None})
    assert names(cpp.traces) == names(py.functional.traces)


def test_published_kernel_records_carry_the_cpp_file_and_its_lines(pair):
    k, cpp, _, _ = pair
    text = (CPP.parent.parent / k.path).read_text().splitlines()
    for trace in cpp.traces:
        assert trace.source == k.path
        for r in trace.records:
            if type(r).__name__ in ("Dma", "Fill", "Alloc", "Free"):
                assert 1 <= r.line <= len(text)


def test_tcm_kernel_transfers_name_the_lines_of_tensor_to_tcm_and_tcm_to_tensor():
    path = "kernels/cpp/neuron-tcm/relu.cpp"
    result, args = python_port("kernels/relu_tcm.py", SHAPE, None)
    lines = {(r.direction, r.line) for r in run(kernel(path), args).traces[0].records
             if type(r).__name__ == "Dma"}
    assert lines == {("to_tcm", line_of(path, "tensor_to_tcm<float>")),
                     ("to_tensor", line_of(path, "tcm_to_tensor<float>"))}


def test_published_multicore_kernel_on_a_size_not_a_multiple_of_the_cores_is_a_fault():
    path = "kernels/cpp/neuron-multicore/relu.cpp"
    x = np.random.default_rng(3).standard_normal((3, 35)).astype(np.float32)
    with pytest.raises(KernelFault) as e:
        run(kernel(path), [x], cores=8)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{line_of(path, 'tensor_to_tcm<float>')}: core 7: ")
    assert "out-of-bounds tensor_to_tcm: tensor t_in has 105 elements" in msg


def test_fixed_multicore_kernel_on_a_size_not_a_multiple_of_the_cores_is_relu():
    x = np.random.default_rng(3).standard_normal((3, 35)).astype(np.float32)
    out = run(kernel("kernels/cpp/neuron-multicore-fixed/relu.cpp"), [x], cores=8).output
    np.testing.assert_array_equal(out, relu(x))


def test_multicore_comes_from_build_py_beside_the_kernel():
    assert kernel("kernels/cpp/neuron-multicore/relu.cpp").multicore
    assert not kernel("kernels/cpp/neuron-tcm/relu.cpp").multicore


def test_shape_cpp_gives_the_registered_operators():
    k = kernel("kernels/cpp/neuron/relu.cpp")
    assert k.ops == ["relu_forward", "relu_backward"]
    assert (k.op, k.params) == ("relu_forward", [("t_in", "tensor")])


def test_relu_backward_on_two_inputs_passes_the_gradient_where_the_input_is_positive():
    k = kernel("kernels/cpp/neuron/relu.cpp", op="relu_backward")
    assert k.params == [("t_grad", "tensor"), ("t_in", "tensor")]
    rng = np.random.default_rng(5)
    grad, x = (rng.standard_normal((8, 33)).astype(np.float32) for _ in range(2))
    out = run(k, [grad, x])
    np.testing.assert_array_equal(out.output, np.where(x > 0, grad, np.float32(0)))
    # one read of t_in per element, one of t_grad where it is positive, one write each
    assert tally(out.traces)["element_accesses"] == 2 * x.size + int((x > 0).sum())


def test_unknown_operator_is_a_load_error_naming_the_registered_ones():
    with pytest.raises(KernelLoadError, match="relu_forward, relu_backward"):
        kernel("kernels/cpp/neuron/relu.cpp", op="relu_sideways")


def test_buffer_size_override_changes_the_transfers_of_a_cpp_kernel():
    k = kernel("kernels/cpp/neuron-tcm/relu.cpp")
    assert k.buffer_size == 1024
    x = np.random.default_rng(1).standard_normal((4, 1000)).astype(np.float32)
    out = run(k, [x], buffer_size=512)
    np.testing.assert_array_equal(out.output, relu(x))
    dmas = [r for r in out.traces[0].records if type(r).__name__ == "Dma"]
    assert len(dmas) == 2 * -(-x.size // 512)
    assert max(r.count for r in dmas) == 512
    alloc = next(r for r in out.traces[0].records if type(r).__name__ == "Alloc")
    assert alloc.nbytes == 512 * 4


def test_buffer_size_override_of_a_kernel_without_the_declaration_is_refused():
    k = kernel("kernels/cpp/neuron/relu.cpp")
    assert k.buffer_size is None
    with pytest.raises(KernelLoadError, match="no `static constexpr size_t buffer_size"):
        run(k, [np.zeros((2, 2), np.float32)], buffer_size=64)


@pytest.mark.parametrize("folder,file,expected", [
    ("api-add-accessor", "add.cpp", lambda a, b: a + b),
    ("api-add-stream", "add.cpp", lambda a, b: a + b),
    ("api-negate-tcm", "negate.cpp", lambda a: -a),
])
def test_api_reference_example_computes_its_operation(folder, file, expected):
    k = kernel(f"kernels/cpp/{folder}/{file}")
    rng = np.random.default_rng(2)
    shape = (1500,) if folder == "api-add-accessor" else (3, 1500)
    args = [rng.standard_normal(shape).astype(np.float32) for _ in k.params]
    np.testing.assert_array_equal(run(k, args).output, expected(*args))


def test_validate_shows_each_documented_point_beside_its_unedited_cpp_source():
    from gpsimd_sim.workload.calibration import validation_report
    from gpsimd_sim.workload.cpp_twins import add_cpp_rows
    doc = add_cpp_rows(validation_report("trn1"))
    kernels = [r["cpp"]["kernel"] for r in doc["rows"]]
    assert kernels == ["kernels/cpp/neuron/relu.cpp", "kernels/cpp/neuron-tcm/relu.cpp",
                       "kernels/cpp/neuron-multicore/relu.cpp"]
    for r in doc["rows"]:
        assert r["cpp"]["correct"]
        assert abs(r["cpp"]["vs_python_pct"]) < 3.0   # the front ends count the loop alike


def test_validate_text_prints_the_cpp_row_under_its_python_row():
    from gpsimd_sim.workload.calibration import validation_report
    from gpsimd_sim.workload.cpp_twins import add_cpp_rows
    from gpsimd_sim.workload.validation_text import validation_text
    lines = validation_text(add_cpp_rows(validation_report("trn1"))).splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("TCM accessor"))
    assert lines[at + 1].strip().startswith("C++ neuron-tcm/relu.cpp")


def test_a_cpp_twin_that_cannot_run_is_reported_not_fatal(monkeypatch):
    from gpsimd_sim.errors import SimError
    from gpsimd_sim.workload import cpp_twins
    from gpsimd_sim.workload.calibration import validation_report

    def no_compiler(m, *args, **kw):
        raise SimError("g++ not found")
    monkeypatch.setattr(cpp_twins, "simulate_measurement", no_compiler)
    doc = cpp_twins.add_cpp_rows(validation_report("trn1"))
    assert all(r["cpp"]["skipped"] == "g++ not found" for r in doc["rows"])
