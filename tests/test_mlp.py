"""The tutorial MLP: function, the benchmark protocol, the iteration model, calibration and
validation against the documented trn1 throughputs."""
import json
from dataclasses import replace

import numpy as np
import pytest

from gpsimd_sim.cli import main
from gpsimd_sim.config.presets import load_config, with_values
from gpsimd_sim.workload import Protocol
from gpsimd_sim.workload.calibration import fit, simulate_measurement, validate
from gpsimd_sim.workload.costs import matmul_ns
from gpsimd_sim.workload.measurements import FIT_VARIANTS, MEASUREMENTS
from gpsimd_sim.workload.run import load_model, run_model

MODEL = "models/mlp.py"


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


@pytest.fixture(scope="module")
def trn1():
    return load_config("trn1")


@pytest.mark.parametrize("kernel", ["kernels/relu_elementwise.py", "kernels/relu_tcm.py",
                                    "kernels/relu_multicore.py"])
def test_mlp_output_equals_a_numpy_forward_pass_with_every_kernel(model, trn1, kernel):
    m, protocol = model
    result = run_model(m, replace(protocol, batch=8, dataset_size=32), kernel, *trn1)
    step = result.steps[8]
    assert step.correct and step.max_abs_error < 1e-5
    assert [r.functional.output.shape for r in step.kernel_runs] == [(8, 4096), (8, 2048)]


def test_the_model_is_the_tutorials_784_4096_2048_10_mlp(model):
    m, _ = model
    linear = [(layer.n_in, layer.n_out) for layer in m.layers if hasattr(layer, "n_in")]
    assert linear == [(784, 4096), (4096, 2048), (2048, 10)]
    assert sum(i * o + o for i, o in linear) == 11_626_506  # 11.63 M parameters


def test_protocol_times_311_steps_with_a_tail_of_16_and_claims_310():
    p = Protocol(dataset_size=10_000, batch=32, warmup_steps=2)
    assert len(p.batches()) == 313 and p.batches()[-1] == 16
    timed = p.timed_batches()
    assert len(timed) == 311 and timed.count(16) == 1
    assert p.claimed_steps() == 310


def test_protocol_throughput_divides_claimed_steps_by_the_time_of_the_timed_ones():
    p = Protocol(dataset_size=10_000, batch=32, warmup_steps=2)
    ips = p.iterations_per_s({32: 4e6, 16: 3e6})  # ns per step
    assert ips == pytest.approx(310 / ((310 * 4e6 + 3e6) * 1e-9))


def test_a_matmul_costs_the_larger_of_compute_and_memory_plus_a_fixed_cost(trn1):
    config, _ = trn1
    cost = matmul_ns(32, 784, 4096, config)
    nc = config.neuroncore
    weights = 784 * 4096 * nc.matmul_weight_bytes
    assert cost["bytes"] >= weights
    assert cost["ns"] == pytest.approx(max(cost["compute_ns"], cost["memory_ns"])
                                       + nc.device_op_fixed_ns)
    slow = with_values(config, tensor_flops_per_ns=1.0)  # compute-bound now
    assert matmul_ns(32, 784, 4096, slow)["bound"] == "compute"


def test_the_iteration_is_the_sum_of_its_components(model, trn1):
    m, protocol = model
    result = run_model(m, replace(protocol, batch=4, dataset_size=16), "kernels/relu_tcm.py",
                       *trn1)
    d = result.to_dict()
    assert d["ms_per_iteration"] * 1e6 == pytest.approx(sum(c["ns"] for c in d["components"]))
    kinds = [c["kind"] for c in d["components"]]
    assert kinds.count("matmul") == 3 and kinds.count("custom_op") == 2
    assert kinds.count("launch") == 2 and kinds.count("host") == 1


def test_fit_recovers_known_parameters_from_synthetic_measurements(trn1):
    """Make 'documented' throughputs from known parameter values, start the fit elsewhere,
    and get the known values back: the fit solves, it does not just echo its start."""
    base, provenance = load_config("trn1", use_fitted=False)
    truth = {"element_access_ns": 300.0, "host_step_ns": 2.0e6}
    true_config = with_values(base, **truth)
    points = []
    for m in MEASUREMENTS["trn1"]:
        if m.variant in FIT_VARIANTS:
            ips = simulate_measurement(m, true_config, provenance).iter_per_s
            points.append(replace(m, iter_per_s=ips, source="synthetic"))
    result = fit(base=(base, provenance), points=points)
    for name, value in truth.items():
        assert result.values[name] == pytest.approx(value, rel=1e-4)


def test_validate_reports_every_documented_point_with_its_role():
    rows = validate("trn1")
    assert [r["variant"] for r in rows] == [m.variant for m in MEASUREMENTS["trn1"]]
    roles = {r["variant"]: r["role"] for r in rows}
    assert roles["TCM, 8 cores"] == "prediction"
    assert all(roles[v] == "fit" for v in FIT_VARIANTS)
    for r in rows:
        assert r["error_pct"] == pytest.approx(
            100 * (r["simulated_iter_per_s"] - r["documented_iter_per_s"])
            / r["documented_iter_per_s"])


def test_validate_json_is_a_document_with_a_schema_version_bands_and_roles(capsys):
    code = main(["validate", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] >= 3 and len(doc["rows"]) == 3
    for r in doc["rows"]:
        assert {"variant", "documented_iter_per_s", "simulated_iter_per_s", "error_pct",
                "role", "tests", "iter_per_s_band", "documented_in_band"} <= set(r)
        lo, hi = r["iter_per_s_band"]
        assert lo <= r["simulated_iter_per_s"] <= hi
    predictions = [r for r in doc["rows"] if r["role"] == "prediction"]
    assert code == (0 if all(r["documented_in_band"] for r in predictions) else 1)


def test_validate_without_bands_exits_non_zero_when_a_prediction_misses_the_threshold(capsys):
    assert main(["validate", "--no-band", "--threshold", "1e-9"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_mlp_command_prints_one_json_object_with_the_breakdown(capsys):
    code = main(["mlp", "--kernel", "kernels/relu_multicore.py", "--batch", "4", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["correct"]
    assert d["iter_per_s"] > 0 and 0 < d["custom_op_share_pct"] < 100
    assert {c["name"] for c in d["components"]} >= {"host step", "fc1", "fc2", "fc3",
                                                     "relu1", "relu2"}
    assert d["config"]["host"]["host_step_ns"]["confidence"] in ("fitted", "assumed")


def test_mlp_with_a_missing_kernel_is_one_clear_error(capsys):
    assert main(["mlp", "--kernel", "kernels/nope.py"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.py" in err[0]


def test_a_custom_measurement_list_is_fitted_on_exactly_the_points_given():
    base, provenance = load_config("trn1", use_fitted=False)
    m = MEASUREMENTS["trn1"]
    only_tcm = [replace(m[1], iter_per_s=200.0)]
    fitted = fit(base=(base, provenance), points=[replace(m[0]), *only_tcm])
    assert [p["variant"] for p in fitted.fit_points] == ["element-wise accessor", "TCM accessor"]
    assert np.isclose(fitted.fit_points[1]["simulated_iter_per_s"], 200.0, rtol=1e-6)


def test_a_batch_that_leaves_no_timed_steps_is_one_clear_error(capsys):
    assert main(["mlp", "--batch", "5000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no timed steps" in err[0]


def test_calibrate_writes_the_fit_where_the_preset_loader_reads_it(tmp_path, monkeypatch,
                                                                   capsys):
    import gpsimd_sim.config.presets as presets
    # no shipped fit: what load_config finds must be the one calibrate wrote
    monkeypatch.setattr(presets, "fitted_path", lambda preset: tmp_path / "fitted" / "trn1.toml")
    assert main(["calibrate"]) == 0
    assert "element_access_ns" in capsys.readouterr().out
    config, provenance = load_config("trn1")
    assert provenance["memory.element_access_ns"]["confidence"] == "fitted"
    assert provenance["host.host_step_ns"]["confidence"] == "fitted"
    assert "TCM accessor" in provenance["host.host_step_ns"]["source"]
    fitted_rows = [r for r in validate("trn1") if r["role"] == "fit"]
    assert all(abs(r["error_pct"]) < 1e-6 for r in fitted_rows)


def test_sensitivity_refits_each_mechanism_and_its_preset_row_matches_validate():
    """docs/calibration.md's table comes from this: each candidate mechanism refitted on the
    fit points only, scored on the held-out point. The preset's own row must agree with
    `validate`, and the a priori row must show what made us look for a mechanism."""
    from gpsimd_sim.workload.calibration import MECHANISMS, sensitivity
    rows = sensitivity("trn1")
    assert [r["mechanism"] for r in rows] == [label for label, _ in MECHANISMS]
    preset = next(r for r in rows if r["overrides"] == {})
    held_out = {r["variant"]: r["error_pct"] for r in validate("trn1") if r["role"] == "prediction"}
    for variant, err in preset["held_out_error_pct"].items():
        assert err == pytest.approx(held_out[variant], abs=0.01)
    a_priori = rows[0]["held_out_error_pct"]["TCM, 8 cores"]
    assert abs(a_priori) > 5
