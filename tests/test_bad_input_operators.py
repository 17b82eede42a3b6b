"""The command line's new options refuse bad input in one line, with a non-zero exit."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def gpsimd_run(*args):
    return subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def one_line_error(proc) -> str:
    assert proc.returncode not in (0, None)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["kernels/bias_add.py", "--input", "bias=/no/such/bias.npy"],
     ["input bias", "/no/such/bias.npy", "no such .npy file"]),
    (["kernels/bias_add.py", "--input", "bias=17"],
     ["shape function of bias_add rejected", "bias [17]", "must be [4096]"]),
    (["kernels/clamp_multicore.py", "--scalar", "lo=low"], ["--scalar lo=low", "not a number"]),
    (["kernels/clamp_multicore.py", "--scalar", "t_in=1"], ["t_in is a tensor"]),
    (["kernels/clamp_multicore.py", "--input", "lo=4x4"], ["lo is a scalar"]),
    (["kernels/clamp_multicore.py", "--input", "x=4x4"], ["no parameter 'x'", "t_in, lo: double"]),
    (["kernels/clamp_multicore.py", "--input", "t_in=4x0"], ["every size must be positive"]),
    (["kernels/clamp_multicore.py", "--input", "t_in=4x4:float99"], ["unknown dtype 'float99'"]),
    (["kernels/clamp_multicore.py", "--input", "t_in"], ["expected NAME=SHAPE"]),
    (["kernels/clamp_multicore.py", "--scalar", "lo=1", "--scalar", "lo=2"], ["given twice"]),
    (["kernels/clamp_multicore.py", "--rtol", "-1"], ["--rtol"]),
    (["kernels/relu_tcm.py", "--op", "relu_backward"], ["--op relu_backward", "Python kernel"]),
])
def test_bad_operator_options_are_one_line(args, fragments):
    message = one_line_error(gpsimd_run(*args))
    for fragment in fragments:
        assert fragment in message


def test_a_scalar_of_the_wrong_type_is_named(tmp_path):
    kernel = tmp_path / "scale.py"
    kernel.write_text("from gpsimd_sim.api import kernel, mul\n"
                      "@kernel(reference=lambda t, n: t * n)\n"
                      "def scale(t_in, n: int):\n    return mul(t_in, n)\n")
    message = one_line_error(gpsimd_run(kernel, "--scalar", "n=2.5"))
    assert "scalar n is an int64_t" in message and "2.5" in message


def test_a_npy_file_that_is_not_an_array_is_named(tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy at all")
    message = one_line_error(gpsimd_run("kernels/relu_tcm.py", "--input", f"t_in={bad}"))
    assert str(bad) in message and "not a readable .npy" in message


def test_a_npy_of_an_unsupported_dtype_is_named(tmp_path):
    path = tmp_path / "c.npy"
    np.save(path, np.zeros(4, np.complex64))
    message = one_line_error(gpsimd_run("kernels/relu_tcm.py", "--input", f"t_in={path}"))
    assert "complex64" in message


def test_a_wrong_output_exits_one_and_names_the_first_wrong_element():
    proc = gpsimd_run("kernels/softmax_rows.py", "--shape", "2x100", "--rtol", "0", "--atol", "0")
    assert proc.returncode == 1
    assert "first at [" in proc.stdout and "expected" in proc.stdout
