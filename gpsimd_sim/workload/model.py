"""A feed-forward model whose activations run through a GPSIMD kernel file.

Linear layers and log_softmax are computed with NumPy and timed in closed form
(``costs``); every ``CustomOp`` runs the user's kernel on the real activations through the
full simulator, so its output feeds the next layer and its time is simulated, not assumed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config.hardware import HardwareConfig
from ..functional.loader import PythonKernel as LoadedKernel
from ..report import analysis
from ..simulation import RunOptions, RunResult, simulate_loaded
from . import costs


_WEIGHTS: dict = {}


@dataclass(frozen=True)
class Linear:
    name: str
    n_in: int
    n_out: int


@dataclass(frozen=True)
class CustomOp:
    """The custom operator (``my_ops.Relu.apply``) run by the kernel file."""
    name: str


@dataclass(frozen=True)
class LogSoftmax:
    name: str


@dataclass
class Model:
    name: str
    input_size: int
    layers: list

    def weights(self, seed: int) -> dict:
        """Xavier-normal weights (as the script's ``xavier_normal_``) and PyTorch's default
        uniform biases, seeded; made once per model and seed (11.6 M values take a while)."""
        key = (self.name, self.input_size, tuple(self.layers), seed)
        if key not in _WEIGHTS:
            rng = np.random.default_rng(seed)
            out = {}
            for layer in self.layers:
                if isinstance(layer, Linear):
                    std = np.float32(np.sqrt(2.0 / (layer.n_in + layer.n_out)))
                    bound = 1.0 / np.sqrt(layer.n_in)
                    w = rng.standard_normal((layer.n_out, layer.n_in), dtype=np.float32) * std
                    out[layer.name] = (w, rng.uniform(-bound, bound, layer.n_out).astype(np.float32))
            _WEIGHTS.clear()  # keep one model's weights: they are 46 MB
            _WEIGHTS[key] = out
        return _WEIGHTS[key]

    def inputs(self, batch: int, seed: int) -> np.ndarray:
        """A batch of MNIST-like images: pixel values in [0, 1) like ``ToTensor()``, flattened."""
        return np.random.default_rng(seed + 1).random((batch, self.input_size), dtype=np.float32)

    def reference(self, x: np.ndarray, weights: dict) -> np.ndarray:
        """The forward pass in NumPy alone: what the simulated model must reproduce."""
        for layer in self.layers:
            x = _apply(layer, x, weights, lambda a: np.maximum(a, np.float32(0)))
        return x


def _apply(layer, x, weights, relu):
    if isinstance(layer, Linear):
        w, b = weights[layer.name]
        return (x @ w.T + b).astype(np.float32)
    if isinstance(layer, CustomOp):
        return relu(x)
    if isinstance(layer, LogSoftmax):
        m = x.max(axis=1, keepdims=True)
        z = x - m
        return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32)
    raise TypeError(f"unknown layer {layer!r}")


@dataclass
class Component:
    """One part of an iteration's time."""
    name: str
    kind: str          # host, matmul, launch, custom_op, vector
    ns: float
    detail: dict = field(default_factory=dict)


@dataclass
class StepResult:
    batch: int
    components: list[Component]
    correct: bool
    max_abs_error: float
    kernel_runs: list[RunResult]

    @property
    def ns(self) -> float:
        return sum(c.ns for c in self.components)


def simulate_step(model: Model, kernel: LoadedKernel, batch: int, config: HardwareConfig,
                  provenance: dict, options: RunOptions, seed: int = 0) -> StepResult:
    """One inference step: host, each layer in order, each custom op through the simulator."""
    weights = model.weights(seed)
    x0 = model.inputs(batch, seed)
    components = [Component("host step", "host", config.host.host_step_ns)]
    runs: list[RunResult] = []

    def kernel_relu(a):
        result = simulate_loaded(kernel, [np.ascontiguousarray(a)], config, provenance, options)
        runs.append(result)
        return result.functional.output.reshape(a.shape)

    x = x0
    for layer in model.layers:
        if isinstance(layer, Linear):
            cost = costs.matmul_ns(batch, layer.n_in, layer.n_out, config)
            components.append(Component(layer.name, "matmul", cost["ns"], cost))
        elif isinstance(layer, CustomOp):
            components.append(Component(f"{layer.name} launch", "launch",
                                        config.neuroncore.custom_op_launch_ns))
        elif isinstance(layer, LogSoftmax):
            cost = costs.elementwise_op_ns(batch, x.shape[1], config)
            components.append(Component(layer.name, "vector", cost["ns"], cost))
        x = _apply(layer, x, weights, kernel_relu)
        if isinstance(layer, CustomOp):
            r = runs[-1]
            components.append(Component(layer.name, "custom_op", r.simulated_ns, {
                "shape": list(r.functional.output.shape), "correct": r.functional.correct,
                "dma_transfers": sum(t.transfers for t in r.timing.cores),
                # only the limiter: the whole JSON result (config dump included) is not needed
                "limiter": analysis.limiter(r.timing, r.functional.traces, r.config,
                                            kernel.multicore)["message"]}))
    expected = model.reference(x0, weights)
    ok = all(r.functional.correct for r in runs)
    close = np.allclose(x, expected, rtol=1e-5, atol=1e-5)
    err = float(np.max(np.abs(x - expected))) if x.size else 0.0
    return StepResult(batch, components, bool(ok and close), err, runs)
