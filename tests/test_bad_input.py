"""Every bad input ends in ONE line on stderr, `gpsimd_sim: error: ...`, and a non-zero exit.

These run the real command line in a subprocess (`python -m gpsimd_sim run ...`), so they
also prove no traceback escapes. Messages are checked for the facts they must name (file,
line, core, tensor or buffer, index), with lines found in the kernel files, not typed in.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_KERNELS = "tests/kernels"  # relative to ROOT, as a user would type it


def gpsimd_run(*args):
    return subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def one_line_error(proc) -> str:
    """Assert the run failed the way every user error must; return the message."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gpsimd_sim: error: ")
    return lines[0]


def line_of(path: str, text: str) -> int:
    """1-based line of the first line of ``path`` (relative to ROOT) containing ``text``."""
    for number, line in enumerate((ROOT / path).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


# -- the kernel file ------------------------------------------------------------------------

def test_missing_kernel_file_is_named():
    message = one_line_error(gpsimd_run("no/such/kernel.py"))
    assert "no/such/kernel.py" in message


def test_unreadable_kernel_file_is_named(tmp_path):
    path = tmp_path / "relu_tcm.py"
    shutil.copy(ROOT / "kernels" / "relu_tcm.py", path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: a mode-000 file is still readable")
        message = one_line_error(gpsimd_run(path))
        assert str(path) in message and "read" in message
    finally:
        path.chmod(0o644)


def test_a_directory_is_not_a_kernel_file():
    message = one_line_error(gpsimd_run(TEST_KERNELS))
    assert TEST_KERNELS in message and "directory" in message


def test_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("from gpsimd_sim.api import kernel\n\n\ndef relu_forward(t_in:\n    pass\n")
    message = one_line_error(gpsimd_run(path))
    assert f"{path}:4" in message and "syntax" in message


def test_file_without_a_kernel_function_says_so():
    path = f"{TEST_KERNELS}/no_kernel.py"
    message = one_line_error(gpsimd_run(path))
    assert path in message and "@kernel" in message


def test_kernel_that_raises_names_file_line_and_exception():
    path = f"{TEST_KERNELS}/raises.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5"))
    assert f"{path}:{line_of(path, 'raise ValueError')}" in message
    assert "ValueError" in message and "kernel gave up" in message


# -- out-of-bounds accesses and races -------------------------------------------------------

def test_published_multicore_kernel_reads_past_the_end_when_size_does_not_divide_by_8():
    path = f"{TEST_KERNELS}/relu_multicore_published.py"
    n = 4097
    message = one_line_error(gpsimd_run(path, "--shape", f"1x{n}", "--cores", "8"))
    assert f"{path}:{line_of(path, 'tensor_to_tcm(')}" in message
    assert "core 7" in message and "tensor t_in" in message
    assert f"index {n}" in message  # the first element past the end


def test_published_multicore_kernel_is_correct_when_size_divides_by_the_core_count():
    # the bug only shows when the last partition is enlarged
    proc = gpsimd_run(f"{TEST_KERNELS}/relu_multicore_published.py", "--shape", "8x16", "--json")
    assert proc.returncode == 0 and '"correct": true' in proc.stdout


def test_out_of_bounds_element_accessor_in_a_loop_names_tensor_index_and_line():
    path = f"{TEST_KERNELS}/elementwise_out_of_bounds.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5"))
    assert f"{path}:{line_of(path, 't_out_acc[i][j] =')}" in message
    assert "core 0" in message and "tensor t_in" in message and "[3, 0]" in message


def test_out_of_bounds_tcm_buffer_access_in_a_loop_names_buffer_index_and_line():
    path = f"{TEST_KERNELS}/tcm_out_of_bounds_loop.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5"))
    assert f"{path}:{line_of(path, 'tcm_buffer[j] =')}" in message
    assert "core 0" in message and "TCM buffer" in message
    assert "index [16]" in message  # BUFFER_SIZE = 16: one past the end


def test_a_loop_called_with_an_argument_too_many_is_refused_at_its_line():
    path = f"{TEST_KERNELS}/loop_extra_argument.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5"))
    assert f"{path}:{line_of(path, 'EXTRA ARGUMENT')}" in message
    assert "relu_block takes 2 arguments" in message and "3 given" in message


def test_a_loop_numba_cannot_type_on_a_later_call_is_named_at_the_loop_in_process():
    # the second call has the first call's argument types but writes the read-only input
    path = f"{TEST_KERNELS}/loop_swapped_accessors.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5", "--no-isolate"))
    assert f"{path}:{line_of(path, 'dst_acc[i][j] =')}" in message
    assert "numba cannot compile copy_rows" in message


def test_a_reference_that_fails_stops_the_run_before_the_kernel_runs(tmp_path):
    path = f"{TEST_KERNELS}/reference_shape_mismatch.py"
    marker = tmp_path / "kernel_ran"
    proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", path, "--shape", "3x5",
                           "--no-isolate"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "GPSIMD_SIM_TEST_MARKER": str(marker)})
    assert "the reference of relu_forward returns shape [3, 5]" in one_line_error(proc)
    assert not marker.exists()


def test_two_cores_writing_one_element_is_reported_as_a_race():
    path = f"{TEST_KERNELS}/race_two_cores.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5", "--cores", "2"))
    assert f"{path}:{line_of(path, 'RACE')}" in message
    assert "race" in message and "element 0" in message
    assert "core 0" in message and "core 1" in message


# -- kernels that do not finish -------------------------------------------------------------

def test_endless_loop_stops_at_the_iteration_limit():
    path = f"{TEST_KERNELS}/loop_never_ends.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5", "--max-iterations", "100000"))
    assert f"{path}:{line_of(path, '    while True:')}" in message
    assert "iteration limit" in message and "does not finish" in message


def test_endless_python_calling_the_api_stops_at_the_step_limit():
    path = f"{TEST_KERNELS}/python_never_ends.py"
    message = one_line_error(gpsimd_run(path, "--shape", "3x5", "--max-steps", "1000"))
    assert f"{path}:{line_of(path, 'tcm_accessor()')}" in message
    assert "1000 steps" in message and "does not finish" in message


# -- invalid options ------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, named", [
    ("--cores", "0", "--cores"),
    ("--cores", "9", "--cores 9"),
    ("--shape", "0x3", "0x3"),
    ("--shape", "abc", "abc"),
    ("--buffer-size", "-1", "--buffer-size"),
    ("--preset", "nope", "nope"),
    ("--set", "bad", "bad"),
    ("--set", "no_such_parameter=1", "no_such_parameter"),
    ("--set", "dma_bytes_per_ns=0", "dma_bytes_per_ns"),
    ("--dtype", "complex", "complex"),
])
def test_invalid_option_is_named(option, value, named):
    message = one_line_error(gpsimd_run("kernels/relu_multicore.py", option, value))
    assert named in message


def test_cores_on_a_single_core_kernel_is_refused():
    message = one_line_error(gpsimd_run("kernels/relu_tcm.py", "--cores", "2"))
    assert "single-core" in message


# -- not an error ---------------------------------------------------------------------------

def test_failing_tcm_malloc_is_not_an_error_but_a_wrong_output():
    # 8192 floats = 32 KiB, twice the 16 KiB pool: the kernel sees None, as in C++
    proc = gpsimd_run("kernels/relu_tcm.py", "--shape", "3x5", "--buffer-size", "8192", "--json")
    assert proc.stderr == ""
    assert '"correct": false' in proc.stdout and '"tcm_malloc_failures": 1' in proc.stdout
    assert proc.returncode == 1  # the wrong output, not a crash
