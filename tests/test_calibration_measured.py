"""Calibration from measurements (synthetic ones: the simulator measures itself under known
parameters), and the validate document: what each documented point tests."""
from pathlib import Path

import numpy as np
import pytest

from gpsimd_sim.config import load_config
from gpsimd_sim.config.presets import load_ranges, with_values
from gpsimd_sim.errors import ConfigError
from gpsimd_sim.simulation import RunOptions, run
from gpsimd_sim.uncertainty import run_band
from gpsimd_sim.uncertainty.measured import (calibrate_from_measurements, manifest_points,
                                             simulate_measurements, write_measurements)
from gpsimd_sim.workload.calibration import validation_passed, validation_report
from gpsimd_sim.workload.run import resolve_path

TRUTH = {"dma_fixed_ns": 900.0, "dma_bytes_per_ns": 20.0, "element_access_ns": 300.0,
         "element_write_fraction": 0.3, "custom_op_launch_ns": 5000.0}
# enough of the manifest to pin every fitted parameter, small enough to be quick
SUBSET = ("tcm_zeros_b256", "tcm_zeros_b1024", "tcm_empty_b1024", "tcm_copy_8x4096",
          "tcm_copy_128x4096", "multicore_c8", "elementwise_8x256_pos",
          "elementwise_8x256_neg", "elementwise_32x1024_pos", "elementwise_32x1024_neg",
          "null_8x128", "null_32x4096")


@pytest.fixture(scope="module")
def points():
    return [p for p in manifest_points() if p.name in SUBSET]


def _measure(tmp_path, points, noise, seed=2):
    config, provenance = load_config("trn1")
    truth = with_values(config, **TRUTH)
    path = tmp_path / "measured.csv"
    write_measurements(path, simulate_measurements(points, truth, provenance, noise, seed))
    return path


def test_the_manifest_lists_every_microbenchmark_the_issue_asks_for():
    pts = manifest_points()
    tcm = sorted(p.buffer_size for p in pts if p.kernel.endswith("relu_tcm.py"))
    assert tcm[0] == 64 and tcm[-1] == 4096 and len(tcm) == 7
    assert any(p.kernel.endswith("tcm_empty.py") for p in pts)
    assert sorted(p.cores for p in pts if p.kernel.endswith("relu_multicore.py")) == [1, 2, 4, 8]
    ew = {p.shape for p in pts if p.kernel.endswith("relu_elementwise.py")}
    assert len(ew) == 3
    for p in pts:
        assert Path(resolve_path(p.kernel)).is_file()


def test_calibration_recovers_known_parameters_exactly_without_noise(tmp_path, points):
    fit = calibrate_from_measurements(str(_measure(tmp_path, points, 0.0)), "trn1",
                                      mechanisms=())
    for name, value in TRUTH.items():
        assert fit.values[name] == pytest.approx(value, rel=1e-6)
    assert fit.rms_residual_pct < 1e-6


def test_calibration_recovers_known_parameters_within_the_uncertainty_it_reports(tmp_path,
                                                                                  points):
    fit = calibrate_from_measurements(str(_measure(tmp_path, points, 0.01)), "trn1",
                                      mechanisms=())
    assert fit.dof == len(points) - len(TRUTH)
    for name, value in TRUTH.items():
        std = fit.std[name]
        assert 0 < std < 0.2 * value, name
        assert abs(fit.values[name] - value) <= 3 * std, (name, fit.values[name], std)
    assert fit.provenance["points"] == len(points) and fit.provenance["csv_sha256"]


def test_the_mechanisms_the_points_tell_apart_are_chosen_by_the_residual(tmp_path, points):
    config, provenance = load_config("trn1")
    truth = with_values(config, **TRUTH, return_copy="single")
    path = tmp_path / "m.csv"
    write_measurements(path, simulate_measurements(points, truth, provenance, 0.0))
    fit = calibrate_from_measurements(str(path), "trn1", mechanisms=("return_copy",))
    assert fit.mechanisms == {"return_copy": "single"}
    assert {row["value"] for row in fit.mechanism_table} == {"none", "single", "chunked"}


def test_a_measured_preset_is_written_loaded_and_narrows_the_bands(tmp_path, points):
    fit = calibrate_from_measurements(str(_measure(tmp_path, points, 0.01)), "trn1",
                                      mechanisms=())
    preset = tmp_path / "trn1-measured.toml"
    fit.write(str(preset))
    config, provenance = load_config(str(preset))
    assert config.dma.dma_fixed_ns == pytest.approx(fit.values["dma_fixed_ns"])
    assert provenance["dma.dma_fixed_ns"]["confidence"] == "measured"
    # measured wins over the documented-point fit the preset still names
    assert config.memory.element_access_ns == pytest.approx(fit.values["element_access_ns"])
    r = load_ranges(str(preset))["dma.dma_fixed_ns"]
    assert r.dist == "normal" and r.high - r.low < 600
    # a copy through TCM: only DMA, which the measurements pinned
    kernel = "kernels/microbench/tcm_copy.py"
    wide = run(RunOptions(kernel=kernel, shape=(8, 1024), timeout_s=None))
    narrow = run(RunOptions(kernel=kernel, shape=(8, 1024), timeout_s=None,
                            preset=str(preset)))
    bw = run_band(wide, members=8)["simulated_ns_band"]
    bn = run_band(narrow, members=8)["simulated_ns_band"]
    assert (bn[1] - bn[0]) / narrow.simulated_ns < 0.2 * (bw[1] - bw[0]) / wide.simulated_ns


@pytest.mark.parametrize("text, fragment", [
    ("name,kernel,shape,measured_ns\n", "no measurements"),
    ("name,kernel,shape,measured_ns\nx,kernels/relu_tcm.py,32x4096,fast\n", "must be numbers"),
    ("name,kernel,shape,measured_ns\nx,kernels/relu_tcm.py,32x4096,-1\n", "must be positive"),
    ("name,kernel,shape,measured_ns,input\nx,kernels/relu_tcm.py,32x4096,5,weird\n", "input"),
])
def test_a_malformed_measurements_file_is_one_clear_error(tmp_path, text, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as info:
        calibrate_from_measurements(str(path), "trn1")
    assert "\n" not in str(info.value)


# -- the validate document -------------------------------------------------------------------
@pytest.fixture(scope="module")
def report():
    return validation_report("trn1")


def test_validate_separates_fit_rows_from_predictions_and_says_what_each_tests(report):
    assert report["schema_version"] >= 3
    roles = {r["variant"]: r["role"] for r in report["rows"]}
    assert roles == {"element-wise accessor": "fit", "TCM accessor": "fit",
                     "TCM, 8 cores": "prediction"}
    assert report["fit"]["max_abs_error_pct"] < 1e-6
    mc = next(r for r in report["rows"] if r["role"] == "prediction")
    t = mc["test_detail"]
    assert t["fitted_parameters_cancel"] and t["against"] == "TCM accessor"
    assert t["documented_ms"] == pytest.approx(0.826, abs=0.002)
    assert t["simulated_ms"] == pytest.approx(0.835, abs=0.005)
    assert 75 < t["dma_fixed_share_pct"] < 90
    assert 1200 < t["implied_dma_fixed_ns"] < 1350   # about 1.3 us per transfer


def test_validate_leaves_one_out_where_the_model_stays_identifiable(report):
    loo = {r["left_out"]: r for r in report["leave_one_out"]}
    assert not loo["element-wise accessor"]["identifiable"]
    assert "element_access_ns" in loo["element-wise accessor"]["reason"]
    assert loo["TCM accessor"]["identifiable"]
    assert abs(loo["TCM accessor"]["error_pct"]) < 5
    held = next(r for r in report["rows"] if r["role"] == "prediction")
    assert loo["TCM, 8 cores"]["error_pct"] == pytest.approx(held["error_pct"], abs=1e-6)


def test_pass_or_fail_follows_the_predictions_not_the_fits(report):
    doc = {**report, "rows": [dict(r) for r in report["rows"]]}
    for r in doc["rows"]:
        if r["role"] == "fit":
            r["error_pct"] = 50.0       # a stale fit does not fail validation
    assert validation_passed(doc, threshold_pct=5.0)
    assert not validation_passed(doc, threshold_pct=1e-9)
    for r in doc["rows"]:
        if r["role"] == "prediction":
            r["iter_per_s_band"], r["documented_in_band"] = [0.0, 1.0], False
    assert not validation_passed(doc, threshold_pct=100.0)
    assert np.isfinite(report["prediction"]["max_abs_error_pct"])
