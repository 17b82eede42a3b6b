"""Sweeps survive their points: a dead worker is a failed point with its reason, an
interrupted sweep leaves no process behind, one sweep writes a folder at a time, only
deterministic outcomes are kept, and the files are always rebuilt from the stored rows."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = """
import os, signal, time
from gpsimd_sim.api import (float32, get_cpu_count, get_cpu_id, get_dst_tensor, kernel, loop,
                            sizeof, tcm_free, tcm_malloc)
BUFFER_SIZE = 64

@kernel(reference="relu", multicore=True)
def k(t_in):
    if BUFFER_SIZE == {bad}:
        {action}
    out = get_dst_tensor()
    n, c, p = t_in.numel(), get_cpu_id(), get_cpu_count()
    base = n // p
    part = n - base * (p - 1) if c == p - 1 else base
    buf = tcm_malloc(sizeof(float32) * BUFFER_SIZE, float32)
    a, b = t_in.tcm_accessor(), out.tcm_accessor()
    for i in range(0, part, BUFFER_SIZE):
        m = min(BUFFER_SIZE, part - i)
        a.tensor_to_tcm(buf, base * c + i, m)
        relu(buf, m)
        b.tcm_to_tensor(buf, base * c + i, m)
    tcm_free(buf)
    return out

@loop
def relu(buf, m):
    for j in range(m):
        buf[j] = buf[j] if buf[j] > 0.0 else 0.0
"""


def kernel_file(tmp_path, action="pass", bad=128) -> Path:
    path = tmp_path / "k.py"
    path.write_text(KERNEL.format(action=action, bad=bad))
    return path


def sweep(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "gpsimd_sim", "sweep", *map(str, args),
                           "--shape", "4x64", "--cores", "1,2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def rows(out: Path) -> dict:
    return {r["point"]: r for r in json.loads((out / "results.json").read_text())["rows"]}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_point_whose_kernel_kills_its_process_fails_alone_with_its_reason(tmp_path, jobs):
    path = kernel_file(tmp_path, action="os._exit(0)")
    out = tmp_path / "out"
    proc = sweep(path, "--buffer-size", "64,128", "--jobs", jobs, "--out", out)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    got = rows(out)
    assert len(got) == 4
    dead = [r for r in got.values() if r["buffer_size"] == 128]
    assert all(r["status"] == "failed" and "ended its process" in r["error"] for r in dead)
    assert all(r["status"] == "ok" for r in got.values() if r["buffer_size"] == 64)


def test_a_dead_sweep_worker_fails_only_its_points(tmp_path):
    # the kernel kills the sweep's worker process itself (its functional worker's parent)
    # buffer 64 runs in a pool worker (the sweep warms up on buffer 128 in its own process)
    path = kernel_file(tmp_path, action="os.kill(os.getppid(), signal.SIGKILL)\n"
                                        "        time.sleep(5)", bad=64)
    out = tmp_path / "out"
    proc = sweep(path, "--buffer-size", "64,128", "--jobs", "2", "--out", out)
    assert proc.returncode == 1
    got = rows(out)
    assert len(got) == 4
    assert any("worker process died" in (r["error"] or "") for r in got.values())
    assert all(r["status"] == "ok" for r in got.values() if r["buffer_size"] == 128)


def test_a_second_sweep_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    path = kernel_file(tmp_path, action="time.sleep(8)")
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "gpsimd_sim", "sweep", str(path),
                              "--shape", "4x64", "--cores", "1", "--buffer-size", "128",
                              "--jobs", "1", "--out", str(out)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / ".lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        second = sweep(path, "--buffer-size", "128", "--jobs", "1", "--out", out)
        assert second.returncode == 2 and "another sweep" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_sigterm_saves_the_finished_rows_and_leaves_no_process(tmp_path):
    path = kernel_file(tmp_path, action="time.sleep(60)", bad=64)  # the warm-up point finishes
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "gpsimd_sim", "sweep", str(path),
                             "--shape", "4x64", "--cores", "1,2", "--buffer-size", "64,128",
                             "--jobs", "2", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if (out / "results.json").exists() and len(rows(out)) >= 1:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err.decode()
    assert len(rows(out)) >= 1
    time.sleep(2.0)
    # zombies wait for init to reap them (in a container, maybe never): they run nothing
    left = subprocess.run(["ps", "-o", "stat=,cmd=", "-g", str(proc.pid)],
                          capture_output=True, text=True).stdout.splitlines()
    assert [line for line in left if not line.strip().startswith("Z")] == [], left


def test_a_timed_out_point_is_run_again_on_resume(tmp_path):
    path = kernel_file(tmp_path, action="time.sleep(3)")
    out = tmp_path / "out"
    first = sweep(path, "--buffer-size", "128", "--jobs", "1", "--timeout", "1", "--out", out)
    assert first.returncode == 1
    assert [r["retry"] for r in rows(out).values()] == [True, True]
    again = sweep(path, "--buffer-size", "128", "--jobs", "1", "--timeout", "30", "--out", out)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(r["status"] == "ok" for r in rows(out).values())


def test_the_csv_is_rebuilt_when_nothing_is_left_to_run(tmp_path):
    path = kernel_file(tmp_path)
    out = tmp_path / "out"
    assert sweep(path, "--buffer-size", "64", "--jobs", "1", "--out", out).returncode == 0
    full = (out / "results.csv").read_text()
    (out / "results.csv").write_text(full[:20])
    assert sweep(path, "--buffer-size", "64", "--jobs", "1", "--out", out).returncode == 0
    assert (out / "results.csv").read_text() == full
    (out / "results.csv").unlink()
    assert sweep(path, "--buffer-size", "64", "--jobs", "1", "--out", out).returncode == 0
    assert (out / "results.csv").read_text() == full


def test_a_hand_edited_store_is_one_line_saying_what_to_do(tmp_path):
    path = kernel_file(tmp_path)
    out = tmp_path / "out"
    assert sweep(path, "--buffer-size", "64", "--jobs", "1", "--out", out).returncode == 0
    doc = json.loads((out / "results.json").read_text())
    doc["rows"] = [1]
    (out / "results.json").write_text(json.dumps(doc))
    proc = sweep(path, "--buffer-size", "64", "--jobs", "1", "--out", out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "damaged" in proc.stderr


def test_wrong_outputs_count_as_failed_points(tmp_path):
    path = kernel_file(tmp_path, action="return get_dst_tensor()")
    out = tmp_path / "out"
    proc = sweep(path, "--buffer-size", "64,128", "--jobs", "1", "--out", out, "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["failed"] == 2
