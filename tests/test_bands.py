"""Error bands: plausible ranges in the presets, the ensemble, and a band on every estimate
(kernel runs, whole-model throughputs, the documented points). Small ensembles: the
figures are the library's, the member count only sets how smooth the percentiles are."""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpsimd_sim.config import load_config, parameter_table
from gpsimd_sim.config.presets import load_ranges, preset_dir, with_values
from gpsimd_sim.errors import ConfigError
from gpsimd_sim.simulation import RunOptions, run
from gpsimd_sim.timing.engine import simulate_timing
from gpsimd_sim.uncertainty import band, get_ensemble, model_band, run_band
from gpsimd_sim.uncertainty.bands import add_validate_bands
from gpsimd_sim.uncertainty import ensemble as ensemble_mod
from gpsimd_sim.workload.model import iteration_ns
from gpsimd_sim.workload.retime import KernelTimer
from gpsimd_sim.workload.run import load_model, run_model

from conftest import KERNELS, ROOT, workloads

N = 6  # members: enough to exercise every path


# -- ranges ----------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["trn1", "inf2"])
def test_every_parameter_of_confidence_m_or_assumed_has_a_range_with_its_reason(preset):
    config, provenance = load_config(preset, use_fitted=False)
    ranges = load_ranges(preset, use_fitted=False)
    for section, name, *_ in parameter_table():
        key = f"{section}.{name}"
        if provenance[key]["confidence"] in ("M", "assumed"):
            assert key in ranges, f"{key} ({provenance[key]['confidence']}) has no range"
            r = ranges[key]
            assert r.reason and r.source
            if r.alternatives:
                assert r.value in r.alternatives
            else:
                assert r.low <= r.value <= r.high


def test_the_documented_ranges_are_the_ones_the_issue_names():
    r = load_ranges("trn1")
    assert (r["dma.dma_bytes_per_ns"].low, r["dma.dma_bytes_per_ns"].high) == (17, 29)
    assert (r["dma.dma_fixed_ns"].low, r["dma.dma_fixed_ns"].high) == (600, 2600)
    assert set(r["core.loop_vectorised"].alternatives) == {True, False}
    assert 0 in r["dma.fill_chunk_bytes"].alternatives
    assert set(r["neuroncore.return_copy"].alternatives) == {"none", "single", "chunked"}
    assert set(r["memory.element_write_fraction"].alternatives) == {1.0, 0.1}
    assert (r["host.host_overlap"].low, r["host.host_overlap"].high) == (0.0, 1.0)


@pytest.mark.parametrize("prefix, entry, fragment", [
    ("dma_fixed_ns = { value = 1300,", "dma_fixed_ns = { value = 1300, low = 2000, high = 3000, "
     'range = "x",', "outside its range"),
    ("dma_fixed_ns = { value = 1300,", "dma_fixed_ns = { value = 1300, low = 2000, "
     'range = "x",', "both 'low' and 'high'"),
    ("dma_fixed_ns = { value = 1300,", "dma_fixed_ns = { value = 1300, low = 1, high = 2000,",
     "reason"),
    ("dma_queues = { value = 16,", 'dma_queues = { value = 16, alternatives = [8, 1], '
     'range = "x",', "not one of its alternatives"),
])
def test_a_malformed_range_is_one_clear_error(tmp_path, prefix, entry, fragment):
    text = (preset_dir() / "trn1.toml").read_text()
    # the shipped entry replaced whole by the broken one
    lines = []
    for line in text.splitlines():
        if line.startswith(prefix.split(" =")[0] + " ="):
            line = entry + ' source = "x", confidence = "M" }'
        lines.append(line)
    path = tmp_path / "broken.toml"
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError, match=fragment) as info:
        load_config(str(path))
    assert "\n" not in str(info.value)


# -- the band itself -------------------------------------------------------------------------
@given(st.floats(-1e9, 1e9), st.lists(st.floats(-1e9, 1e9), max_size=40))
def test_law_a_band_always_contains_its_point_estimate(point, samples):
    b = band(point, samples)
    assert b["low"] <= point <= b["high"]
    every = samples + [point]
    assert min(every) <= b["low"] <= b["high"] <= max(every)


@settings(max_examples=8)
@given(workloads(max_numel=1024), st.integers(0, 3))
def test_law_a_kernel_runs_band_contains_its_simulated_time(w, seed):
    result = run(w.options())
    b = run_band(result, members=4, seed=seed)
    low, high = b["simulated_ns_band"]
    assert low <= result.simulated_ns <= high
    assert b["simulated_ns"] == result.simulated_ns


def test_iteration_is_serial_at_no_overlap_and_the_longer_stage_at_full_overlap():
    parts = [("host", 3.0), ("matmul", 1.0), ("custom_op", 0.5)]
    assert iteration_ns(parts, 0.0) == 4.5
    assert iteration_ns(parts, 1.0) == 3.0
    values = [iteration_ns(parts, o) for o in np.linspace(0, 1, 11)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert iteration_ns([("host", 1.0), ("matmul", 5.0)], 1.0) == 5.0


# -- members re-time runs exactly ------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["elementwise", "tcm", "multicore"])
def test_the_kernel_timer_equals_a_full_replay_on_every_member(kernel):
    result = run(RunOptions(kernel=KERNELS[kernel], shape=(8, 512), timeout_s=None))
    ens = get_ensemble("trn1", N, seed=3)
    timer = KernelTimer()
    timer.seed(result)
    assert timer(result, result.config) == pytest.approx(result.simulated_ns, rel=1e-12)
    for i in range(N):
        # the timing stage charges every element access alike: compare at blocking writes
        cfg = with_values(ens.config(i, result.config), element_write_fraction=1.0,
                          element_access_ns=100.0 + 50 * i)
        full = simulate_timing(result.functional.traces, cfg, record_timeline=False)
        assert timer(result, cfg) == pytest.approx(full.simulated_ns, rel=1e-9)


def test_posted_writes_are_charged_a_fraction_of_a_read():
    result = run(RunOptions(kernel=KERNELS["elementwise"], shape=(4, 64), timeout_s=None))
    timer = KernelTimer()
    blocking = timer(result, with_values(result.config, element_write_fraction=1.0))
    posted = timer(result, with_values(result.config, element_write_fraction=0.1))
    writes = 4 * 64
    assert blocking - posted == pytest.approx(0.9 * writes * result.config.memory.element_access_ns)


# -- determinism and the cache ---------------------------------------------------------------
def test_bands_are_deterministic_for_a_seed_and_move_with_it():
    result = run(RunOptions(kernel=KERNELS["tcm"], shape=(8, 1024), timeout_s=None))
    a = run_band(result, members=N, seed=1)["simulated_ns_band"]
    ensemble_mod._ENSEMBLES.clear()
    b = run_band(result, members=N, seed=1)["simulated_ns_band"]
    c = run_band(result, members=N, seed=2)["simulated_ns_band"]
    assert a == b
    assert a != c


def test_draws_of_one_parameter_do_not_depend_on_the_others():
    ens = get_ensemble("trn1", N, seed=0)
    r = ens.ranges["dma.dma_fixed_ns"]
    assert [d["dma.dma_fixed_ns"] for d in ens.draws] == ensemble_mod.draw(r, N, 0)
    assert all(r.low <= d["dma.dma_fixed_ns"] <= r.high for d in ens.draws)
    assert "tcm.tcm_pool_bytes" not in ens.sampled      # changes what a kernel does
    assert "memory.element_access_ns" not in ens.sampled  # refitted instead


def test_the_refit_is_cached_on_disk_and_read_back_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("GPSIMD_SIM_CACHE_DIR", str(tmp_path))
    ens = get_ensemble("trn1", 3, seed=5)
    fits = ens.fits()
    assert not ens.from_cache and len(list((tmp_path / "ensembles").glob("*.json"))) == 1
    ensemble_mod._ENSEMBLES.clear()
    again = get_ensemble("trn1", 3, seed=5)
    assert [f.fitted for f in again.fits()] == [f.fitted for f in fits]
    assert again.from_cache
    for f in fits:  # each member reproduces the fit points it was fitted to
        assert f.consistent and max(abs(r) for r in f.residual_pct) < 1e-6


def test_a_pinned_parameter_keeps_the_runs_value_in_every_member():
    options = RunOptions(kernel=KERNELS["tcm"], shape=(8, 1024), timeout_s=None,
                         overrides=["dma_fixed_ns=1300", "dma_bytes_per_ns=27.2",
                                    "loop_vectorised=true", "fill_chunk_bytes=4096",
                                    "loop_call_cycles=20", "iteration_cycles=1",
                                    "compare_cycles=1", "select_cycles=1", "store_cycles=1",
                                    "issue_width_ops=1", "dma_queues=16",
                                    "dma_fixed_holds_queue=false", "hbm_bytes_per_ns=410"])
    result = run(options)
    b = run_band(result, members=N)
    assert b["simulated_ns_band"] == pytest.approx([result.simulated_ns] * 2, rel=1e-9)


# -- whole-model and validate bands ----------------------------------------------------------
def test_a_whole_model_band_contains_its_throughput_and_says_if_the_documented_one_is_in():
    model, protocol = load_model("models/mlp.py")
    config, provenance = load_config("trn1")
    small = replace(protocol, batch=8, dataset_size=40)
    result = run_model(model, small, "kernels/relu_tcm.py", config, provenance, isolate=None)
    b = model_band(result, members=N, documented=result.iter_per_s)
    low, high = b["iter_per_s_band"]
    assert low <= result.iter_per_s <= high and b["documented_in_band"]
    assert b["band"]["members_used"] + b["band"]["members_ruled_out"] == N


def test_validate_rows_carry_bands_fits_by_construction_and_the_prediction_honestly():
    from gpsimd_sim.workload.calibration import validation_report
    doc = add_validate_bands(validation_report("trn1"), members=N, seed=0)
    rows = {r["variant"]: r for r in doc["rows"]}
    for r in rows.values():
        low, high = r["iter_per_s_band"]
        assert low <= r["simulated_iter_per_s"] <= high
        assert r["documented_in_band"] == (low <= r["documented_iter_per_s"] <= high)
    fit = rows["TCM accessor"]["iter_per_s_band"]
    assert fit[1] - fit[0] < 1e-6 * fit[0]      # every member is fitted to it
    assert doc["bands"]["members"] == N
    assert doc["one_at_a_time"][0]["label"] == "preset"


SHIPPED = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "kernels").glob("*.py"))


@pytest.mark.parametrize("kernel", SHIPPED)
def test_every_shipped_kernels_run_carries_a_band_around_its_time(kernel):
    result = run(RunOptions(kernel=str(ROOT / kernel), shape=(8, 256), timeout_s=None))
    d = {**result.to_dict(), **run_band(result, members=4)}
    low, high = d["simulated_ns_band"]
    assert low <= d["simulated_ns"] <= high
    assert d["band"]["members"] == 4 and d["band"]["percentiles"] == [5.0, 95.0]


def test_a_large_runs_members_timed_in_several_processes_give_the_same_times(monkeypatch):
    # on 8 cores some members have fewer DMA queues than cores: their replays are split
    import gpsimd_sim.uncertainty.bands as bands
    from gpsimd_sim.timing.dma import dma_system_class
    result = run(RunOptions(kernel=KERNELS["multicore"], shape=(8, 1024), cores=8,
                            buffer_size=64, timeout_s=None))
    ens = get_ensemble("trn1", 40, seed=0)
    configs = [ens.config(i, result.config) for i in range(ens.size)]
    replayed = [c for c in configs if not dma_system_class(c).never_contends(c, 8)]
    assert 2 <= len(replayed) < len(configs)
    alone = bands.member_times(result, configs, jobs=1)
    monkeypatch.setattr(bands, "SPLIT_RECORDS", 0)
    assert bands.member_times(result, configs, jobs=3) == alone
    assert bands.run_band(result, members=40, jobs=2) == bands.run_band(result, members=40)


def test_a_band_that_fails_here_leaves_no_child_running(monkeypatch):
    import os

    import gpsimd_sim.isolation as isolation
    import gpsimd_sim.uncertainty.bands as bands
    result = run(RunOptions(kernel=KERNELS["multicore"], shape=(8, 1024), cores=8,
                            buffer_size=64, timeout_s=None))
    ens = get_ensemble("trn1", 40, seed=0)
    configs = [ens.config(i, result.config) for i in range(ens.size)]
    parent, captures = os.getpid(), []
    new_capture = isolation._new_capture
    monkeypatch.setattr(isolation, "_new_capture",
                        lambda: captures.append(new_capture()) or captures[-1])
    timed = KernelTimer.__call__

    def fails_here(self, run_result, config):
        if os.getpid() == parent:
            raise RuntimeError("stop")
        return timed(self, run_result, config)
    monkeypatch.setattr(KernelTimer, "__call__", fails_here)
    monkeypatch.setattr(bands, "SPLIT_RECORDS", 0)
    with pytest.raises(RuntimeError, match="stop"):
        bands.member_times(result, configs, jobs=3)
    assert len(captures) == 2 and not any(os.path.exists(c) for c in captures)
