"""The training workload: the tutorial's training MLP with the ReLU simulated forward and
backward; its step must equal a NumPy training step, and its throughput carries a band."""
from dataclasses import replace

import numpy as np
import pytest

from gpsimd_sim.config import load_config
from gpsimd_sim.uncertainty import model_band
from gpsimd_sim.workload.training import load_training, run_training

MODEL = "models/mlp_train.py"


@pytest.fixture(scope="module")
def trained():
    config, provenance = load_config("trn1")
    return run_training(config, provenance, MODEL, batch=8, isolate=None)


def numpy_training_step(weights, x, labels, lr):
    """The training step written out by hand (float64): forward, NLL of log_softmax,
    backward with the ReLU's gradient, SGD."""
    w1, b1 = (a.astype(np.float64) for a in weights["fc1"])
    w2, b2 = (a.astype(np.float64) for a in weights["fc2"])
    w3, b3 = (a.astype(np.float64) for a in weights["fc3"])
    x = x.astype(np.float64)
    f1 = x @ w1.T + b1
    r1 = np.maximum(f1, 0)
    f2 = r1 @ w2.T + b2
    r2 = np.maximum(f2, 0)
    f3 = r2 @ w3.T + b3
    z = f3 - f3.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -logp[np.arange(n), labels].mean()
    g3 = np.exp(logp)
    g3[np.arange(n), labels] -= 1
    g3 /= n
    g_r2 = g3 @ w3
    g2 = np.where(f2 > 0, g_r2, 0)
    g_r1 = g2 @ w2
    g1 = np.where(f1 > 0, g_r1, 0)
    new = {"fc1": (w1 - lr * g1.T @ x, b1 - lr * g1.sum(0)),
           "fc2": (w2 - lr * g2.T @ r1, b2 - lr * g2.sum(0)),
           "fc3": (w3 - lr * g3.T @ r2, b3 - lr * g3.sum(0))}
    return loss, new


def test_the_training_model_is_the_samples_784_120_84_10_mlp_on_mnist_training_data():
    tm = load_training(MODEL)
    linear = [(layer.n_in, layer.n_out) for layer in tm.model.layers if hasattr(layer, "n_in")]
    assert linear == [(784, 120), (120, 84), (84, 10)]
    assert tm.training.lr == 0.01
    p = tm.protocol
    assert len(p.batches()) == 1875 and set(p.batches()) == {32}
    assert p.claimed_steps() == 1872 and len(p.timed_batches()) == 1873
    assert tm.forward_kernel.endswith("relu_elementwise.py")
    assert tm.backward_kernel.endswith("relu_backward.py")


def test_a_simulated_training_step_equals_a_numpy_training_step(trained):
    step = trained.steps[8]
    assert trained.correct and step.checked
    tm = load_training(MODEL)
    weights = tm.model.weights(0)
    x = tm.model.inputs(8, 0)
    labels = tm.model.labels(8, 0, tm.training.classes)
    loss, new = numpy_training_step(weights, x, labels, tm.training.lr)
    assert step.loss == pytest.approx(loss, rel=1e-5)
    for name, (w, b) in new.items():
        np.testing.assert_allclose(step.weights[name][0], w, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(step.weights[name][1], b, rtol=1e-4, atol=1e-6)
        assert not np.array_equal(step.weights[name][0], weights[name][0])  # it moved


def test_the_relu_runs_on_the_simulator_forward_and_backward(trained):
    step = trained.steps[8]
    names = [c.name for c in step.components if c.kind == "custom_op"]
    assert names == ["relu1", "relu2", "relu2 backward", "relu1 backward"]
    kernels = [r.kernel.name for r in step.kernel_runs]
    assert kernels == ["relu_forward", "relu_forward", "relu_backward", "relu_backward"]
    assert all(r.functional.correct for r in step.kernel_runs)
    kinds = {c.kind for c in step.components}
    assert {"host", "matmul", "launch", "custom_op", "vector", "sgd"} <= kinds
    grads = [c.name for c in step.components if "grad" in c.name]
    assert "fc1 input grad" not in grads and "fc1 weight grad" in grads


def test_training_throughput_carries_a_band_and_a_breakdown(trained):
    d = trained.to_dict()
    assert d["iter_per_s"] > 0 and d["correct"] and d["workload"] == "training"
    assert d["ms_per_iteration"] * 1e6 == pytest.approx(sum(c["ns"] for c in d["components"]))
    b = model_band(trained, members=6)
    low, high = b["iter_per_s_band"]
    assert low <= trained.iter_per_s <= high
    assert high > low


def test_a_backward_kernel_of_one_input_is_one_clear_error():
    from gpsimd_sim.errors import SimError
    config, provenance = load_config("trn1")
    with pytest.raises(SimError, match="backward kernel takes"):
        run_training(config, provenance, MODEL, backward_kernel="kernels/relu_tcm.py", batch=4)


def test_the_host_step_of_training_scales_with_its_factor():
    config, provenance = load_config("trn1")
    tm = load_training(MODEL)
    one = run_training(config, provenance, MODEL, batch=4, isolate=None)
    from gpsimd_sim.config.presets import with_values
    doubled = with_values(config, train_host_factor=4.0)
    host = [c for c in one.steps[4].components if c.kind == "host"][0]
    assert host.ns == pytest.approx(config.host.host_step_ns * config.host.train_host_factor)
    assert host.time_under(doubled) == pytest.approx(config.host.host_step_ns * 4.0)
    assert replace(tm.protocol, batch=4).claimed_steps() > 0
