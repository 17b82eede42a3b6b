"""`python -m gpsimd_sim run`: the JSON result, the readable summary, the flags, the seed.

One test runs the real command in a subprocess (stdout must be exactly one JSON object);
the rest call `gpsimd_sim.cli.main` in-process and read what it printed.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from gpsimd_sim.cli import main
from gpsimd_sim.config import load_config, parameter_table
from gpsimd_sim.functional.executor import run_functional
from gpsimd_sim.functional.inputs import make_inputs
from gpsimd_sim.functional.loader import load_kernel
from gpsimd_sim.functional.plan import ExecPlan
from gpsimd_sim.simulation import RunOptions, run

ROOT = Path(__file__).resolve().parents[1]
ELEMENTWISE = str(ROOT / "kernels" / "relu_elementwise.py")
TCM = str(ROOT / "kernels" / "relu_tcm.py")
MULTICORE = str(ROOT / "kernels" / "relu_multicore.py")

REQUIRED_KEYS = {"simulated_ns", "cycles", "correct", "max_abs_error", "cores", "dma_transfers",
                 "dma_bytes", "element_accesses", "tcm_peak_bytes", "per_core", "config"}


def run_json(capsys, *args) -> dict:
    assert main(["run", *map(str, args), "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_json_flag_prints_exactly_one_json_object_with_the_documented_keys():
    proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", "kernels/relu_tcm.py",
                           "--shape", "3x5", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""
    result = json.loads(proc.stdout)  # fails on anything before or after the one object
    assert isinstance(result, dict)
    assert REQUIRED_KEYS <= result.keys()
    assert result["correct"] is True
    assert isinstance(result["per_core"], list)


def test_json_config_is_the_fully_resolved_configuration_with_overrides(capsys):
    result = run_json(capsys, TCM, "--shape", "3x5", "--set", "dma_bytes_per_ns=54.4")
    config = result["config"]
    assert config["preset"] == "trn1"
    for section, name, *_ in parameter_table():
        assert "value" in config[section][name], f"{section}.{name}"
    assert config["dma"]["dma_bytes_per_ns"]["value"] == 54.4
    assert config["dma"]["dma_bytes_per_ns"]["confidence"] == "override"


def test_per_core_has_one_entry_per_core_run(capsys):
    result = run_json(capsys, MULTICORE, "--shape", "3x5", "--cores", "3")
    assert result["cores"] == 3
    assert [c["core"] for c in result["per_core"]] == [0, 1, 2]
    assert sum(c["dma_transfers"] for c in result["per_core"]) == result["dma_transfers"]


def test_buffer_size_flag_overrides_the_kernels_constant(capsys):
    result = run_json(capsys, TCM, "--shape", "3x5", "--buffer-size", "4")
    assert result["buffer_size"] == 4
    assert result["dma_transfers"] == 2 * -(-15 // 4)


def test_cycles_are_simulated_time_times_the_clock_in_whole_cycles(capsys):
    result = run_json(capsys, TCM, "--shape", "3x5")
    clock_hz = result["config"]["core"]["clock_hz"]["value"]
    assert result["cycles"] == round(result["simulated_ns"] * clock_hz / 1e9)
    assert isinstance(result["cycles"], int)


def test_the_header_names_every_override(capsys):
    assert main(["run", TCM, "--shape", "3x5", "--set", "dma_fixed_ns=650"]) == 0
    assert "preset trn1 with dma_fixed_ns=650" in capsys.readouterr().out.splitlines()[0]


def test_out_folder_holds_the_result_the_configuration_the_summary_and_the_trace(capsys,
                                                                                 tmp_path):
    out = tmp_path / "run1"
    printed = run_json(capsys, TCM, "--shape", "3x5", "--out", out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "result.json",
                                                     "summary.txt", "trace.json"]
    written = json.loads((out / "result.json").read_text())
    assert {k: v for k, v in written.items() if k != "wall_s"} == \
        {k: v for k, v in printed.items() if k != "wall_s"}
    assert json.loads((out / "config.json").read_text()) == printed["config"]
    assert "simulated time" in (out / "summary.txt").read_text()
    assert json.loads((out / "trace.json").read_text())["traceEvents"]


def test_out_folder_is_replaced_whole_by_a_second_run(capsys, tmp_path):
    out = tmp_path / "run1"
    run_json(capsys, TCM, "--shape", "3x5", "--out", out)
    second = run_json(capsys, TCM, "--shape", "4x5", "--out", out)
    assert json.loads((out / "result.json").read_text())["shape"] == second["shape"] == [4, 5]


def test_summary_reports_time_cycles_busy_dma_elements_tcm_and_correctness(capsys):
    assert main(["run", MULTICORE, "--shape", "3x5", "--cores", "2"]) == 0
    text = capsys.readouterr().out
    result = run_json(capsys, MULTICORE, "--shape", "3x5", "--cores", "2")
    for label in ("correct", "simulated time", "cycles", "per core", "DMA", "throughput",
                  "element accesses", "TCM peak"):
        assert label in text, label
    dma_line = next(line for line in text.splitlines() if line.strip().startswith("DMA "))
    assert f"{result['dma_transfers']} " in dma_line and "transfers" in dma_line
    assert f"{result['tcm_peak_bytes']} B" in text
    core_rows = [line.split() for line in text.splitlines() if line.strip().startswith("core ")]
    assert [row[1] for row in core_rows] == ["0", "1"]
    assert all(row[2].replace(".", "").isdigit() for row in core_rows)  # a busy percentage


def test_wrong_output_exits_non_zero_with_the_check_in_the_summary(capsys):
    # a 32 KiB buffer does not fit the pool: tcm_malloc returns None, the output stays zero
    assert main(["run", TCM, "--shape", "3x5", "--buffer-size", "8192"]) == 1
    assert "NO" in capsys.readouterr().out


def test_same_seed_gives_identical_cycles_and_figures_in_separate_processes():
    # separate processes: nothing cached in memory can make the two runs agree
    def figures():
        proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", "run",
                               "kernels/relu_elementwise.py", "--shape", "7x13", "--seed", "3",
                               "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        result = json.loads(proc.stdout)
        return {k: v for k, v in result.items() if k not in ("wall_s",)}
    assert figures() == figures()


def test_same_seed_gives_identical_output():
    kernel, plan = load_kernel(TCM), ExecPlan.for_config(load_config("trn1")[0], 1)
    outputs = [run_functional(kernel, make_inputs(1, (7, 13), np.float32, 5), plan).output
               for _ in range(2)]
    np.testing.assert_array_equal(*outputs)


def test_different_seed_gives_different_input():
    a = run(RunOptions(kernel=TCM, shape=(7, 13), seed=1))
    b = run(RunOptions(kernel=TCM, shape=(7, 13), seed=2))
    # ReLU keeps every positive input, so different outputs mean different inputs
    assert not np.array_equal(a.functional.expected, b.functional.expected)
    assert a.functional.correct and b.functional.correct


def test_default_input_is_float32_of_the_default_shape(capsys):
    result = run_json(capsys, TCM)
    assert result["shape"] == [32, 4096] and result["dtype"] == "float32"
    assert result["dma_bytes"] == 2 * 32 * 4096 * 4


def test_an_output_file_that_cannot_be_written_is_one_clear_error(capsys):
    from gpsimd_sim.cli import main
    code = main(["run", "kernels/relu_tcm.py", "--shape", "2x3", "--out", "/proc/nope/x.json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("gpsimd_sim: error: /proc/nope")


def test_a_run_with_its_band_works_where_the_os_gives_no_cpu_affinity(monkeypatch, capsys):
    # macOS has no os.sched_getaffinity: the band's processes fall back to os.cpu_count()
    import os
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert main(["run", str(ROOT / "kernels" / "relu_tcm.py"), "--shape", "4x64",
                 "--json"]) == 0
    assert "simulated_ns_band" in json.loads(capsys.readouterr().out)
