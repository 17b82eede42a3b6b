"""`python -m gpsimd_sim sweep`: the grid, its tables and plots, failures, resume, executors.

Small shapes keep every point to milliseconds; counting executions uses the serial executor
(``jobs=1``), where a patched ``run_point`` is seen by the sweep.
"""
import csv
import json
from pathlib import Path

import pytest

from gpsimd_sim.cli import main
from gpsimd_sim.errors import ConfigError
from gpsimd_sim.sweep import SWEEP_SCHEMA_VERSION, build_spec, run_sweep
from gpsimd_sim.sweep import executors

ROOT = Path(__file__).resolve().parents[1]
TCM = str(ROOT / "kernels" / "relu_tcm.py")
MULTICORE = str(ROOT / "kernels" / "relu_multicore.py")
SHAPE = (4, 256)
POOL_FLOATS = 4096   # float32 elements in trn1's 16 KiB tcm_malloc pool


def spec(kernel=MULTICORE, buffers="64,128", cores="1-2", **kw):
    return build_spec(kernel, buffers, cores, kw.pop("shape", SHAPE), **kw)


def sweep(tmp_path, s=None, jobs=1, **kw):
    return run_sweep(s or spec(), tmp_path / "out", jobs=jobs, progress=False, **kw)


def comparable(rows):
    """Rows as a user compares them: everything (rows carry no wall times or worker ids)."""
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


class Counter:
    """Counts ``run_point`` calls; optionally raises on the n-th (an interrupt, say)."""

    def __init__(self, monkeypatch, raise_on: int | None = None, exc=KeyboardInterrupt):
        self.calls = 0
        self.raise_on, self.exc = raise_on, exc
        self.real = executors.run_point
        monkeypatch.setattr(executors, "run_point", self)

    def __call__(self, s, point):
        self.calls += 1
        if self.calls == self.raise_on:
            raise self.exc()
        return self.real(s, point)


def test_every_combination_is_one_row_in_both_tables(tmp_path):
    outcome = sweep(tmp_path, spec(buffers="64,128,256", cores="1-3"))
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    with open(tmp_path / "out" / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    points = {(b, c) for b in (64, 128, 256) for c in (1, 2, 3)}
    assert {(r["buffer_size"], r["cores"]) for r in data["rows"]} == points
    assert {(int(r["buffer_size"]), int(r["cores"])) for r in table} == points
    assert len(table) == len(data["rows"]) == len(outcome.rows) == 9


def test_rows_carry_schema_version_time_bound_limiter_and_correctness(tmp_path):
    row = sweep(tmp_path, spec(buffers="128", cores="2")).rows[0]
    assert row["schema_version"] == SWEEP_SCHEMA_VERSION
    assert row["status"] == "ok" and row["correct"] is True and row["error"] is None
    assert row["tcm_malloc_failed"] is False
    assert 0 < row["bound_ns"] <= row["simulated_ns"]
    assert row["bound_resource"] in ("compute", "dma_bandwidth", "element_path")
    assert row["limiter"] and row["limiter_message"]


def test_buffer_too_big_for_the_tcm_pool_is_a_malloc_failure_not_a_crash(tmp_path):
    rows = sweep(tmp_path, spec(buffers=f"64,{2 * POOL_FLOATS}", cores="1")).rows
    big = next(r for r in rows if r["buffer_size"] == 2 * POOL_FLOATS)
    small = next(r for r in rows if r["buffer_size"] == 64)
    assert big["status"] == "ok" and big["tcm_malloc_failed"] is True
    assert big["correct"] is False          # the kernel saw None and wrote nothing
    assert small["tcm_malloc_failed"] is False and small["correct"] is True


def test_single_core_kernel_sweeps_only_one_core_and_says_so(tmp_path):
    s = spec(TCM, cores="1-4")
    assert s.cores == (1,)
    assert any("single-core" in n for n in s.notes)
    assert {r["cores"] for r in sweep(tmp_path, s).rows} == {1}


def test_failing_point_is_recorded_with_its_error_and_the_sweep_goes_on(tmp_path):
    kernel = tmp_path / "fails_at_128.py"
    kernel.write_text(Path(MULTICORE).read_text().replace(
        "    buffer_size = BUFFER_SIZE\n",
        "    buffer_size = BUFFER_SIZE\n    if buffer_size == 128:\n"
        "        raise ValueError('no 128 here')\n"))
    rows = sweep(tmp_path, spec(str(kernel), buffers="64,128,256", cores="1")).rows
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["buffer_size"] for r in failed] == [128]
    assert "no 128 here" in failed[0]["error"] and "\n" not in failed[0]["error"]
    assert all(r["correct"] for r in rows if r["buffer_size"] != 128)


def test_sweep_set_adds_a_column_and_a_point_per_value(tmp_path):
    s = spec(buffers="64", cores="1", sweep_sets=["dma_bytes_per_ns=13.6,54.4"])
    rows = sweep(tmp_path, s).rows
    by_bw = {r["dma_bytes_per_ns"]: r["simulated_ns"] for r in rows}
    assert set(by_bw) == {13.6, 54.4}
    assert by_bw[54.4] < by_bw[13.6]       # more DMA bandwidth, less time
    with open(tmp_path / "out" / "results.csv") as fh:
        assert "dma_bytes_per_ns" in csv.DictReader(fh).fieldnames


def test_plots_are_written_as_png(tmp_path):
    outcome = sweep(tmp_path)
    pngs = [f for f in outcome.files if f.suffix == ".png"]
    assert {p.name for p in pngs} == {"time_vs_buffer.png", "speedup_vs_cores.png"}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_rerun_with_same_out_keeps_finished_points_and_runs_only_new_ones(tmp_path, monkeypatch):
    first = sweep(tmp_path, spec(buffers="64,128", cores="1-2"))
    counter = Counter(monkeypatch)
    second = sweep(tmp_path, spec(buffers="64,128,256", cores="1-2"))
    assert counter.calls == 2                 # only buffer 256 on 1 and 2 cores
    assert (second.ran, second.kept) == (2, 4)
    assert comparable(first.rows) == comparable(second.rows[:4])


def test_interrupted_sweep_saves_finished_points_and_resumes_with_the_rest(tmp_path, monkeypatch):
    interrupted = Counter(monkeypatch, raise_on=3)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path)
    saved = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert len(saved) == 2
    monkeypatch.undo()
    resumed = Counter(monkeypatch)
    outcome = sweep(tmp_path)
    assert resumed.calls == 2 and len(outcome.rows) == 4 and interrupted.calls == 3


def test_resuming_with_different_settings_is_a_one_line_error(tmp_path):
    sweep(tmp_path)
    with pytest.raises(ConfigError, match="seed"):
        sweep(tmp_path, spec(seed=1))


def test_local_processes_give_the_same_rows_as_one_process(tmp_path):
    serial = sweep(tmp_path / "a", jobs=1)
    parallel = sweep(tmp_path / "b", jobs=2)
    assert comparable(serial.rows) == comparable(parallel.rows)


@pytest.mark.parametrize("processes", [False, True])
def test_dask_cluster_gives_the_same_rows_as_local_processes(tmp_path, processes):
    distributed = pytest.importorskip("distributed")
    local = sweep(tmp_path / "local", jobs=2)
    with distributed.LocalCluster(n_workers=1 if processes else 2, processes=processes,
                                  threads_per_worker=2, dashboard_address=None) as cluster:
        remote = run_sweep(spec(), tmp_path / "dask", dask=cluster.scheduler_address,
                           progress=False)
    assert comparable(local.rows) == comparable(remote.rows)


def test_mlp_sweep_reports_iterations_per_second(tmp_path):
    rows = sweep(tmp_path, build_spec(MULTICORE, "1024", "1,8", mlp=True)).rows
    assert all(r["status"] == "ok" and r["correct"] and r["iter_per_s"] > 0 for r in rows)
    one, eight = sorted(rows, key=lambda r: r["cores"])
    assert eight["iter_per_s"] >= one["iter_per_s"]
    assert eight["simulated_ns"] < one["simulated_ns"]


@pytest.mark.parametrize("flags, names", [
    (["--cores", "0-3"], "--cores"),
    (["--cores", "9"], "--cores"),
    (["--buffer-size", "abc"], "--buffer-size"),
    (["--sweep-set", "no_such_parameter=1,2"], "no_such_parameter"),
    (["--sweep-set", "dma_bytes_per_ns=fast"], "dma_bytes_per_ns"),
])
def test_bad_sweep_option_is_a_one_line_error(tmp_path, capsys, flags, names):
    code = main(["sweep", MULTICORE, "--shape", "4x256", "--out", str(tmp_path / "o"), *flags])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("gpsimd_sim: error:") and err.count("\n") == 1 and names in err
    assert not (tmp_path / "o").exists()


def test_command_prints_a_summary_and_no_progress_bar_when_not_a_terminal(tmp_path, capsys):
    code = main(["sweep", MULTICORE, "--shape", "4x256", "--buffer-size", "64,128",
                 "--cores", "1-2", "--jobs", "1", "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""
    assert "4 points" in captured.out and "results.csv" in captured.out


def test_progress_bar_is_drawn_when_stderr_is_a_terminal(tmp_path, monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_sweep(spec(), tmp_path / "out", jobs=1)      # progress=None: decide by the terminal
    assert "/4 [" in terminal.getvalue()    # tqdm: "n/4 [elapsed<remaining, rate]"
