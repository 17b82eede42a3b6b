"""Nothing lost, nothing hung: a kernel cannot end, hang or poison the simulator; outputs
never replace inputs; numbers that would overflow are refused; stdout carries only the
result and exit codes say what happened. Each test runs the real command line."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = "from gpsimd_sim.api import kernel, zeros, float32\n"


def cli(*args, timeout=120):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    proc.seconds = time.monotonic() - start
    return proc


def one_line(proc, code=None) -> str:
    assert proc.returncode not in (0, None), proc.stdout
    if code is not None:
        assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gpsimd_sim: error: ")
    return lines[0]


def kernel_file(tmp_path, body: str, name="k.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "@kernel(reference='relu')\ndef k(t_in):\n" + body)
    return path


# -- class 1: a kernel cannot end, hang or poison the simulator ----------------------------

@pytest.mark.parametrize("body, fragment", [
    ("    import sys\n    sys.exit(0)\n", "kernel called sys.exit SystemExit"),
    ("    raise GeneratorExit('bye')\n", "kernel raised GeneratorExit"),
    ("    raise BaseException('odd')\n", "kernel raised BaseException"),
    ("    import os\n    os._exit(0)\n", "ended its process (exit status 0"),
    ("    import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
     "killed by SIGSEGV"),
])
def test_a_kernel_that_ends_its_process_is_one_line_naming_the_kernel(tmp_path, body, fragment):
    path = kernel_file(tmp_path, body)
    message = one_line(cli("run", path, "--shape", "4", "--json"), code=3)
    assert str(path) in message and fragment in message


def test_the_mlp_survives_a_kernel_that_exits(tmp_path):
    path = kernel_file(tmp_path, "    import sys\n    sys.exit(0)\n")
    message = one_line(cli("mlp", "--kernel", path, "--batch", "2"), code=3)
    assert "sys.exit" in message


def test_a_kernel_thread_that_never_ends_does_not_keep_the_simulator_alive(tmp_path):
    path = kernel_file(tmp_path, "    import threading, time\n"
                                 "    threading.Thread(target=lambda: time.sleep(600)).start()\n"
                                 "    return zeros(t_in.sizes(), float32)\n")
    proc = cli("run", path, "--shape", "4", "--json", timeout=60)
    assert proc.returncode == 1 and json.loads(proc.stdout)["correct"] is False
    assert proc.seconds < 30


def test_a_kernel_that_ignores_sigalrm_still_meets_its_timeout(tmp_path):
    path = kernel_file(tmp_path, "    import signal\n"
                                 "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                 "    while True:\n        pass\n")
    proc = cli("run", path, "--shape", "4", "--timeout", "2", timeout=60)
    message = one_line(proc, code=3)
    assert "did not finish within" in message and proc.seconds < 20


def test_a_kernel_allocating_more_than_the_memory_limit_is_one_line(tmp_path):
    path = kernel_file(tmp_path, "    import numpy as np\n"
                                 "    x = np.ones(10 * 2**30, dtype=np.uint8)\n"
                                 "    return t_in\n")
    message = one_line(cli("run", path, "--shape", "4"), code=3)
    assert "MemoryError" in message and "10.0 GiB" in message


def test_a_fifo_as_kernel_file_is_refused_at_once(tmp_path):
    fifo = tmp_path / "kernel.py"
    os.mkfifo(fifo)
    proc = cli("run", fifo, timeout=60)
    assert "not a regular file" in one_line(proc, code=2) and proc.seconds < 20


def test_a_fifo_as_preset_is_refused_at_once(tmp_path):
    fifo = tmp_path / "preset.toml"
    os.mkfifo(fifo)
    proc = cli("run", "kernels/relu_tcm.py", "--preset", fifo, timeout=60)
    assert "not a regular file" in one_line(proc, code=2) and proc.seconds < 20


# -- class 3: outputs never destroy inputs -----------------------------------------------------

def test_out_and_trace_never_replace_the_kernel_file(tmp_path):
    path = kernel_file(tmp_path, "    return t_in\n")
    before = path.read_text()
    for flag in ("--out", "--trace"):
        message = one_line(cli("run", path, flag, path), code=2)
        assert "would write over the kernel file" in message
    assert path.read_text() == before


def test_an_output_never_replaces_the_preset(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text('name = "p"\nextends = "trn1"\n')
    message = one_line(cli("run", "kernels/relu_tcm.py", "--preset", preset, "--trace", preset))
    assert "would write over the preset" in message
    assert preset.read_text() == 'name = "p"\nextends = "trn1"\n'


def test_two_outputs_to_one_path_are_refused(tmp_path):
    message = one_line(cli("run", "kernels/relu_tcm.py", "--out", tmp_path / "x",
                           "--trace", tmp_path / "x"))
    assert "the same place as --out" in message


def test_a_special_file_is_never_replaced_by_a_result():
    message = one_line(cli("run", "kernels/relu_tcm.py", "--trace", "/dev/null"))
    assert "/dev/null" in message and "special file" in message
    assert Path("/dev/null").is_char_device()


def test_a_folder_of_other_files_is_not_taken_as_an_output_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    message = one_line(cli("run", "kernels/relu_tcm.py", "--out", tmp_path))
    assert str(tmp_path) in message and "not a gpsimd_sim result" in message
    assert (tmp_path / "notes.txt").read_text() == "mine"


# -- class 4: numbers that would overflow ------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["--shape", "4294967296x4294967296"], "more than the"),
    (["--timeout", "1e10"], "at most"),
    (["--input", "t_in=65536x65536"], "more than the"),
])
def test_huge_numbers_are_refused_up_front(args, fragment):
    assert fragment in one_line(cli("run", "kernels/relu_tcm.py", *args), code=2)


# -- class 6: stdout carries only the result; exit codes say what happened ------------------

def test_a_kernels_print_does_not_corrupt_the_json(tmp_path):
    path = kernel_file(tmp_path, "    print('hello from the kernel')\n"
                                 "    return zeros(t_in.sizes(), float32)\n")
    proc = cli("run", path, "--shape", "4", "--json")
    d = json.loads(proc.stdout)
    assert "hello from the kernel" in d["printed"]


def test_exit_codes_are_distinct():
    assert cli("run", "kernels/relu_tcm.py", "--shape", "4").returncode == 0
    assert cli("run", "kernels/softmax_rows.py", "--shape", "2x10", "--rtol", "0",
               "--atol", "0").returncode == 1
    assert cli("run", "kernels/relu_tcm.py", "--cores", "0").returncode == 2
    assert cli("run", "tests/kernels/tcm_out_of_bounds_loop.py").returncode == 3


def test_a_closed_pipe_keeps_the_exit_status():
    proc = subprocess.run(f"{sys.executable} -m gpsimd_sim run kernels/softmax_rows.py "
                          "--shape 2x10 --rtol 0 --atol 0 | head -1; exit ${PIPESTATUS[0]}",
                          shell=True, executable="/bin/bash", cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


# -- class 7: model files ----------------------------------------------------------------------

@pytest.mark.parametrize("layers, fragment", [
    ("Linear('fc1', 784, 64), CustomOp('r'), Linear('fc2', 65, 10)", "takes 65 inputs"),
    ("Linear('fc1', 784, 100000), CustomOp('r'), Linear('fc2', 100000, 100000)",
     "more than 2^28"),
])
def test_a_model_whose_layers_do_not_fit_is_one_line(tmp_path, layers, fragment):
    model = tmp_path / "m.py"
    model.write_text("from gpsimd_sim.workload import CustomOp, Linear, Model\n"
                     f"MODEL = Model('m', 784, [{layers}])\n")
    assert fragment in one_line(cli("mlp", "--model", model), code=2)


# -- class 8: trust ------------------------------------------------------------------------

def test_a_cache_folder_others_can_write_is_refused(tmp_path):
    cache = tmp_path / "cache"
    (cache / "loops").mkdir(parents=True)
    (cache / "loops").chmod(0o777)
    env = dict(os.environ, GPSIMD_SIM_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", "kernels/relu_tcm.py",
                           "--shape", "4"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    message = one_line(proc)
    assert "writable by others" in message and str(cache / "loops") in message


def test_generated_loop_sources_are_readable_only_by_their_owner(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, GPSIMD_SIM_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", "kernels/relu_tcm.py",
                           "--shape", "4"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    sources = list((cache / "loops").glob("*.py"))
    assert sources and all(p.stat().st_mode & 0o077 == 0 for p in sources)
    assert (cache / "loops").stat().st_mode & 0o077 == 0
