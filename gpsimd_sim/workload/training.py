"""A training workload: the forward pass, the loss, the backward pass and the optimizer step,
with the custom operator simulated in both directions.

The Neuron custom-operator training sample's MLP (models/mlp_train.py) uses the element-wise
ReLU of ``neuron/relu.cpp`` forward (``relu_forward(t_in)``) and backward
(``relu_backward(t_grad, t_in)``): both kernels run on the simulator on the real
activations and gradients, so their outputs feed the rest of the step and their time is
simulated. Everything else is computed with NumPy and timed in closed form like the
inference matmuls (``costs``): the gradient matmuls on the Tensor engine, the loss and
log_softmax's gradient on the Vector engine, the SGD update over device memory. The host
step of a training iteration is ``host_step_ns * train_host_factor`` (tracing forward,
backward and optimizer), pipelined with the device like inference (``model.iteration_ns``).

Every step is checked against a NumPy training step (``reference_train_step``): the loss and
every updated weight must agree.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..config.hardware import HardwareConfig
from ..errors import SimError
from ..frontend import load
from ..functional.executor import reference_for
from ..simulation import RunOptions
from .model import (CustomOp, Linear, LogSoftmax, Model, Step, StepResult, host_component,
                    sgd_update, vector_component)
from .protocol import Protocol
from .run import ModelResult, kernel_options, read_model_file


@dataclass(frozen=True)
class Training:
    """How the model is trained: NLL loss on its log_softmax output (mean over the batch,
    ``F.nll_loss``'s default), plain SGD (``torch.optim.SGD(params, lr)``)."""
    lr: float = 0.01
    classes: int = 10
    loss: str = "nll"
    optimizer: str = "sgd"

    def check(self) -> None:
        from ..errors import ConfigError
        if self.loss != "nll" or self.optimizer != "sgd":
            raise ConfigError(f"training: only NLL loss with SGD is modelled, got "
                              f"{self.loss} with {self.optimizer}")
        if not self.lr > 0 or self.classes < 2:
            raise ConfigError(f"training: lr {self.lr} must be positive and classes "
                              f"{self.classes} at least 2")


def nll_loss(logp: np.ndarray, labels: np.ndarray) -> tuple[np.float32, np.ndarray]:
    """Mean negative log-likelihood and its gradient with respect to ``logp``."""
    b = logp.shape[0]
    loss = np.float32(-logp[np.arange(b), labels].mean(dtype=np.float32))
    grad = np.zeros_like(logp)
    grad[np.arange(b), labels] = np.float32(-1.0 / b)
    return loss, grad


def reference_train_step(model: Model, weights, x: np.ndarray, labels: np.ndarray,
                         training: Training, forward_reference, backward_reference):
    """One training step in NumPy alone: (loss, updated weights by layer name)."""
    acts = [x]
    for layer in model.layers:
        acts.append(layer.reference(acts[-1], weights, forward_reference))
    loss, grad = nll_loss(acts[-1], labels)
    grads = {}
    first = next(i for i, layer in enumerate(model.layers) if isinstance(layer, Linear))
    for i in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[i]
        if isinstance(layer, LogSoftmax):
            grad = layer.reference_backward(grad, acts[i + 1])
        elif isinstance(layer, Linear):
            grad, grads[layer.name] = layer.reference_backward(grad, acts[i], weights,
                                                               need_input_grad=i > first)
        elif isinstance(layer, CustomOp):
            grad = layer.reference_backward(grad, acts[i], backward_reference)
    updated = {name: sgd_update(weights[name], g, training.lr) for name, g in grads.items()}
    return loss, updated


@dataclass
class TrainStepResult(StepResult):
    loss: float = 0.0
    reference_loss: float = 0.0
    weights: dict = field(default_factory=dict)
    max_weight_error: float = 0.0


def simulate_train_step(model: Model, training: Training, forward_kernel, backward_kernel,
                        batch: int, config: HardwareConfig, provenance: dict,
                        options: RunOptions, backward_options: RunOptions,
                        seed: int = 0) -> TrainStepResult:
    """One training step: host, forward (custom op simulated), loss, backward (custom op's
    backward kernel simulated), SGD; checked against ``reference_train_step``."""
    weights = model.weights(seed)
    step = Step(forward_kernel, config, provenance, options, weights, batch,
                backward_kernel=backward_kernel)
    step.add(host_component(config, lambda c: c.host.train_host_factor))
    x0 = model.inputs(batch, seed)
    labels = model.labels(batch, seed, training.classes)
    acts = [x0]
    for layer in model.layers:
        acts.append(layer.forward(acts[-1], step))
    loss, grad = nll_loss(acts[-1], labels)
    step.add(vector_component("nll_loss", batch, acts[-1].shape[1], config))
    first = next(i for i, layer in enumerate(model.layers) if isinstance(layer, Linear))
    saved = step.options
    for i in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[i]
        if isinstance(layer, LogSoftmax):
            grad = layer.backward(grad, acts[i + 1], step)
        elif isinstance(layer, Linear):
            grad = layer.backward(grad, acts[i], step, need_input_grad=i > first)
        elif isinstance(layer, CustomOp):
            step.options = backward_options
            grad = layer.backward(grad, acts[i], step)
            step.options = saved
        else:
            raise SimError(f"model {model.name}: layer {getattr(layer, 'name', layer)} has no "
                           "backward")
    updated = {layer.name: layer.sgd(step, training.lr) for layer in model.layers
               if isinstance(layer, Linear)}
    ok = all(r.functional.correct for r in step.kernel_runs)
    fwd_ref, bwd_ref = reference_for(forward_kernel), reference_for(backward_kernel)
    overlap = config.host.host_overlap
    if fwd_ref is None or bwd_ref is None:
        return TrainStepResult(batch, step.components, ok, False, 0.0, step.kernel_runs,
                               overlap, step.latent, float(loss), float("nan"), updated, 0.0)
    ref_loss, ref_weights = reference_train_step(model, weights, x0, labels, training,
                                                 fwd_ref, bwd_ref)
    err = max(float(np.max(np.abs(a - b))) for name in ref_weights
              for a, b in zip(updated[name], ref_weights[name]))
    close = all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for name in ref_weights
                for a, b in zip(updated[name], ref_weights[name]))
    loss_ok = bool(np.isclose(loss, ref_loss, rtol=1e-5, atol=1e-6))
    return TrainStepResult(batch, step.components, bool(ok and close and loss_ok), True,
                           max(err, abs(float(loss) - float(ref_loss))), step.kernel_runs,
                           overlap, step.latent, float(loss), float(ref_loss), updated, err)


@dataclass
class TrainingModel:
    model: Model
    training: Training
    protocol: Protocol
    forward_kernel: str
    backward_kernel: str


def load_training(path: str = "models/mlp_train.py") -> TrainingModel:
    """A training model file: MODEL, TRAINING, PROTOCOL, FORWARD_KERNEL, BACKWARD_KERNEL."""
    ns = read_model_file(path)
    model, training = ns["MODEL"], ns.get("TRAINING", Training())
    protocol = ns.get("PROTOCOL", Protocol(dataset_size=60_000))
    if not isinstance(training, Training):
        raise SimError(f"{path}: TRAINING is not a gpsimd_sim.workload.Training")
    try:
        model.check()
        training.check()
    except SimError as exc:
        raise SimError(f"{path}: {exc}") from None
    return TrainingModel(model, training, protocol,
                         ns.get("FORWARD_KERNEL", "kernels/relu_elementwise.py"),
                         ns.get("BACKWARD_KERNEL", "kernels/relu_backward.py"))


@dataclass
class TrainingResult(ModelResult):
    """A whole-model result (``kernel`` is the forward kernel) with the training step's
    backward kernel and settings; ``steps`` hold TrainStepResults."""
    training: Training
    backward_kernel: object

    def to_dict(self) -> dict:
        """A whole-model result's document (``ModelResult.to_dict``), with what training adds:
        the backward kernel, the learning rate and the loss beside the NumPy reference's."""
        main = self.steps[self.protocol.batch]
        d = super().to_dict()
        head = {"schema_version": d.pop("schema_version"), "workload": "training"}
        d.update(backward_kernel=self.backward_kernel.path, lr=self.training.lr,
                 loss=main.loss, reference_loss=main.reference_loss)
        return {**head, **d}


def _options(kernel, path, cores, buffer_size, seed, isolate) -> RunOptions:
    multicore = getattr(kernel, "multicore", False)
    takes_buffer = getattr(kernel, "default_buffer_size", None) is not None
    return kernel_options(path, isolate, cores=cores if multicore else None,
                          buffer_size=buffer_size if takes_buffer else None, seed=seed)


def run_training(config: HardwareConfig, provenance: dict,
                 model_path: str = "models/mlp_train.py", forward_kernel: str | None = None,
                 backward_kernel: str | None = None, cores: int | None = None,
                 buffer_size: int | None = None, batch: int | None = None,
                 seed: int = 0, isolate: bool | None = True) -> TrainingResult:
    """Simulate one training step per distinct batch size of the model file's protocol and
    turn them into iterations/s as the benchmark script counts them. The kernels default to
    the model file's (the sample's element-wise relu_forward and relu_backward)."""
    from dataclasses import replace
    start = time.perf_counter()
    tm = load_training(model_path)
    protocol = tm.protocol if batch is None else replace(tm.protocol, batch=batch)
    protocol.check()
    fwd_path = forward_kernel or tm.forward_kernel
    bwd_path = backward_kernel or tm.backward_kernel
    fwd = load(fwd_path)
    bwd = load(bwd_path)
    if len([p for p in bwd.params if p.is_tensor]) < 2:
        raise SimError(f"{bwd_path}: a backward kernel takes (gradient, the forward's input)")
    options = _options(fwd, fwd_path, cores, buffer_size, seed, isolate)
    backward_options = _options(bwd, bwd_path, cores, buffer_size, seed, isolate)
    steps = {b: simulate_train_step(tm.model, tm.training, fwd, bwd, b, config, provenance,
                                    options, backward_options, seed)
             for b in protocol.step_batches()}
    ips = protocol.iterations_per_s({b: s.ns for b, s in steps.items()})
    return TrainingResult(tm.model, protocol, fwd, config, provenance, steps, ips,
                          time.perf_counter() - start, training=tm.training,
                          backward_kernel=bwd)


def format_training(d: dict, band: dict | None = None) -> str:
    """Summary of a training result (``TrainingResult.to_dict()``), with its band if given."""
    thr = f"{d['iter_per_s']:.2f} iterations/s"
    if band:
        lo, hi = band["iter_per_s_band"]
        thr += f" (band {lo:.2f} to {hi:.2f}, 5-95% of the ensemble)"
    lines = [f"{d['model']} training with {d['kernel']} / {d['backward_kernel']}: batch "
             f"{d['batch']}, SGD lr {d['lr']:g}, preset {d['config']['preset']}",
             f"  throughput       {thr} ({d['protocol']['claimed_steps']} steps over the time "
             f"of {d['protocol']['timed_steps']}, as the benchmark script counts)",
             (f"  correct          {'yes' if d['correct'] else 'NO'} (loss {d['loss']:.6f}, "
              f"max |error| {d['max_abs_error']:.3g} vs a NumPy training step: loss and "
              f"updated weights)") if d["checked"] else
             "  correct          NOT CHECKED: a kernel has no reference",
             f"  per iteration    {d['ms_per_iteration']:.3f} ms; the custom operator "
             f"{d['custom_op_share_pct']:.1f}% with its launches",
             "  component                      time      share"]
    for c in d["components"]:
        lines.append(f"    {c['name']:<26} {c['ns'] / 1e6:8.3f} ms {c['share_pct']:6.1f}%")
    it = d.get("iteration", {})
    if it.get("hidden_ns"):
        lines.append(f"    {'host work hidden':<26} {-it['hidden_ns'] / 1e6:8.3f} ms")
    return "\n".join(lines)
