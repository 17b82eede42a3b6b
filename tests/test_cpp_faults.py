"""A C++ kernel that does something wrong ends in ONE line naming its file and line.

The bad kernels are functions of tests/cpp_kernels/faults/faults.cpp (one build for all);
each faulting line carries a "FAULT: <name>" comment, so lines are found, not typed in. The
kernel runs in a child process: a crash, an abort or an endless loop leaves this process
alive (the test continuing proves it).
"""
import os

import numpy as np
import pytest

from cpp_kernels.shared import FAULTS, kernel, line_of, run
from gpsimd_sim.errors import KernelFault, KernelLoadError, SimulationLimit

X = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)


def fault(op, error=KernelFault, cores=1, multicore=None, **limits):
    with pytest.raises(error) as e:
        run(kernel(FAULTS, op=op, multicore=multicore), [X], cores=cores, **limits)
    msg = str(e.value)
    assert "\n" not in msg and msg.strip() == msg
    return msg


def where(op, core=0):
    return f"{FAULTS}:{line_of(FAULTS, f'FAULT: {op}')}: core {core}"


def test_compile_error_is_a_load_error_with_the_compilers_first_error_and_line():
    path = "tests/cpp_kernels/compile_error/relu.cpp"
    with pytest.raises(KernelLoadError) as e:
        kernel(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{line_of(path, 'return t_out;')}: expected ")
    assert "g++" in msg or "clang" in msg


def test_segfault_is_one_line_with_the_signal_and_the_kernel_line():
    msg = fault("segfault")
    assert msg.startswith(where("segfault") + ": ")
    assert "SIGSEGV" in msg and "invalid memory access" in msg


def test_endless_loop_ends_at_the_iteration_budget():
    msg = fault("endless", SimulationLimit, max_iterations=200_000)
    assert msg.startswith(f"{FAULTS}:{line_of(FAULTS, 'FAULT: endless')}: core 0 exceeded 200000 ")
    assert "does not finish" in msg


def test_endless_loop_ends_at_the_wall_time_limit():
    msg = fault("endless", SimulationLimit, timeout_s=0.5)
    assert "did not finish within 0.5 s of wall time" in msg
    assert msg.startswith(f"{FAULTS}:")


def test_race_between_cores_names_the_element_the_cores_and_the_line():
    msg = fault("race", cores=8, multicore=True)
    assert msg.startswith(where("race", core=1) + ": race: tensor dst element 0 written by "
                                                  "core 0 and core 1")


def test_tcm_overrun_names_the_buffer_the_index_and_the_line():
    msg = fault("tcm_overrun")
    assert msg.startswith(where("tcm_overrun") + ": out-of-bounds access to TCM buffer 0 of "
                                                 "shape [256] at index [256]")


def test_use_after_free_names_the_buffer_and_the_line():
    assert fault("use_after_free").startswith(
        where("use_after_free") + ": TCM buffer 0 used after tcm_free")


def test_double_free_names_the_buffer_and_the_line():
    assert fault("double_free") == where("double_free") + ": tcm_free: TCM buffer 0 freed twice"


def test_stack_overflow_is_named_as_such_in_the_recursive_function():
    msg = fault("stack_overflow")
    first = line_of(FAULTS, "int64_t depth(int64_t n)")
    assert first <= int(msg.split(":")[1]) <= line_of(FAULTS, "FAULT: stack_overflow")
    assert "SIGSEGV (stack overflow" in msg


def test_failed_assert_is_an_abort_with_the_assertion():
    msg = fault("aborts")
    assert msg.startswith(where("aborts") + ": the kernel crashed with SIGABRT")
    assert "Assertion" in msg


def test_element_access_out_of_bounds_names_tensor_sizes_and_index():
    assert fault("element_out_of_bounds") == where("element_out_of_bounds") + (
        ": out-of-bounds element access: tensor t_in of sizes (4, 64), index [0, 64]")


def test_element_accessor_in_a_multicore_kernel_is_refused():
    msg = fault("element_out_of_bounds", cores=2, multicore=True)
    assert "element accessor on tensor t_in: multicore kernels may only use TCM accessors" in msg


def test_step_budget_stops_a_kernel_making_too_many_api_calls():
    msg = fault("element_out_of_bounds", SimulationLimit, max_steps=2)
    assert "core 0 exceeded 2 steps (API calls and element accesses)" in msg


def test_printf_is_captured_on_a_single_core():
    out = run(kernel(FAULTS, op="prints"), [X])
    assert out.printed == f"core 0 of 1: {X.size} elements\n"


def test_printf_is_captured_on_core_0_only_of_a_multicore_kernel():
    out = run(kernel(FAULTS, op="prints", multicore=True), [X], cores=4)
    assert out.printed == f"core 0 of 4: {X.size} elements\n"


def test_single_core_kernel_refuses_more_cores():
    from gpsimd_sim.errors import ConfigError
    with pytest.raises(ConfigError, match="single-core kernel"):
        run(kernel(FAULTS, op="prints"), [X], cores=2)


def test_the_test_process_survives_every_crash():
    assert os.getpid() > 0 and run(kernel(FAULTS, op="prints"), [X]).output.shape == X.shape


def test_a_parameter_of_an_unsupported_type_is_refused_before_compiling(tmp_path):
    path = tmp_path / "scale.cpp"
    path.write_text("#include <torch/torch.h>\n\n"
                    "torch::Tensor scale(const torch::Tensor& t, int factor) {\n"
                    "  return t;\n}\n")
    with pytest.raises(KernelLoadError) as e:
        kernel(str(path))
    assert str(e.value) == (f"{path}:3: parameter factor of scale: custom operators take "
                            "torch::Tensor, torch::Scalar, double or int64_t (developer guide)")


def test_a_cpp_exception_leaving_the_kernel_is_one_line():
    assert fault("throws") == where("throws") + ": the kernel threw std::runtime_error: no thanks"
