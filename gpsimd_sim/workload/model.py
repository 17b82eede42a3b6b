"""A feed-forward model whose custom operator runs a GPSIMD kernel on the simulator.

Each layer is an operator object (LLMCompass's style): it knows its forward computation,
its NumPy reference and its cost, so a new layer kind is a new class here, not a branch in
the step loop. Matmuls and log_softmax are computed with NumPy and timed in closed form
(``costs``); a ``CustomOp`` runs the user's kernel on the real activations through the full
simulator, so its output feeds the next layer and its time is simulated, not assumed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config.hardware import HardwareConfig
from ..functional.executor import reference_for
from ..report import analysis
from ..simulation import RunOptions, RunResult, simulate_loaded
from . import costs


@dataclass
class Component:
    """One part of an iteration's time."""
    name: str
    kind: str          # host, matmul, launch, custom_op, vector
    ns: float
    detail: dict = field(default_factory=dict)


@dataclass
class Step:
    """What the layers of one simulated step share: the kernel, the hardware, the weights,
    and the parts of the step's time and kernel runs so far."""
    kernel: object
    config: HardwareConfig
    provenance: dict
    options: RunOptions
    weights: dict
    batch: int
    components: list = field(default_factory=list)
    kernel_runs: list = field(default_factory=list)

    def add(self, *components: Component) -> None:
        self.components.extend(components)


@dataclass(frozen=True)
class Linear:
    """``nn.Linear(n_in, n_out)`` on the Tensor engine."""
    name: str
    n_in: int
    n_out: int

    def init_weights(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Xavier-normal weights (the script's ``xavier_normal_``), PyTorch's default
        uniform bias."""
        std = np.float32(np.sqrt(2.0 / (self.n_in + self.n_out)))
        bound = 1.0 / np.sqrt(self.n_in)
        w = rng.standard_normal((self.n_out, self.n_in), dtype=np.float32) * std
        return w, rng.uniform(-bound, bound, self.n_out).astype(np.float32)

    def reference(self, x: np.ndarray, weights: dict, custom_reference=None) -> np.ndarray:
        w, b = weights[self.name]
        return (x @ w.T + b).astype(np.float32)

    def forward(self, x: np.ndarray, step: Step) -> np.ndarray:
        cost = costs.matmul_ns(step.batch, self.n_in, self.n_out, step.config)
        step.add(Component(self.name, "matmul", cost["ns"], cost))
        return self.reference(x, step.weights)


@dataclass(frozen=True)
class CustomOp:
    """The custom operator (``my_ops.Relu.apply``): the kernel file, run on the simulator.

    Any kernel whose first tensor input is the activation and whose other arguments have
    defaults can be the operator; its reference is the kernel's own.
    """
    name: str

    def reference(self, x: np.ndarray, weights: dict, custom_reference=None) -> np.ndarray:
        return np.asarray(custom_reference(x))

    def forward(self, x: np.ndarray, step: Step) -> np.ndarray:
        step.add(Component(f"{self.name} launch", "launch",
                           step.config.neuroncore.custom_op_launch_ns))
        a = np.ascontiguousarray(x)
        args = [a] + [p.default for p in step.kernel.params[1:]]
        r = simulate_loaded(step.kernel, args, step.config, step.provenance, step.options)
        step.kernel_runs.append(r)
        step.add(Component(self.name, "custom_op", r.simulated_ns, {
            "shape": list(r.functional.output.shape), "correct": r.functional.correct,
            "dma_transfers": sum(t.transfers for t in r.timing.cores),
            # only the limiter: the whole JSON result (config dump included) is not needed
            "limiter": analysis.limiter(r.timing, r.functional.traces, r.config,
                                        step.kernel.multicore)["message"]}))
        return r.functional.output.reshape(r.functional.output.shape)


@dataclass(frozen=True)
class LogSoftmax:
    """``torch.log_softmax(x, dim=1)`` on the Vector engine."""
    name: str

    def reference(self, x: np.ndarray, weights: dict, custom_reference=None) -> np.ndarray:
        m = x.max(axis=1, keepdims=True)
        z = x - m
        return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32)

    def forward(self, x: np.ndarray, step: Step) -> np.ndarray:
        cost = costs.elementwise_op_ns(step.batch, x.shape[1], step.config)
        step.add(Component(self.name, "vector", cost["ns"], cost))
        return self.reference(x, step.weights)


_WEIGHTS: dict = {}


@dataclass
class Model:
    name: str
    input_size: int
    layers: list

    def weights(self, seed: int) -> dict:
        """Every layer's weights, seeded; made once per model and seed (11.6 M values take
        a while)."""
        key = (self.name, self.input_size, tuple(self.layers), seed)
        if key not in _WEIGHTS:
            rng = np.random.default_rng(seed)
            out = {layer.name: layer.init_weights(rng) for layer in self.layers
                   if hasattr(layer, "init_weights")}
            _WEIGHTS.clear()  # keep one model's weights: they are 46 MB
            _WEIGHTS[key] = out
        return _WEIGHTS[key]

    def inputs(self, batch: int, seed: int) -> np.ndarray:
        """A batch of MNIST-like images: pixel values in [0, 1) like ``ToTensor()``, flattened."""
        return np.random.default_rng(seed + 1).random((batch, self.input_size), dtype=np.float32)

    def reference(self, x: np.ndarray, weights: dict, custom_reference) -> np.ndarray:
        """The forward pass in NumPy alone: what the simulated model must reproduce."""
        for layer in self.layers:
            x = layer.reference(x, weights, custom_reference)
        return x

    def check(self) -> None:
        """Refuse a model whose layers do not fit together, in one line."""
        from ..errors import ConfigError
        width = self.input_size
        for layer in self.layers:
            if isinstance(layer, Linear):
                if layer.n_in != width:
                    raise ConfigError(f"model {self.name}: layer {layer.name} takes {layer.n_in} "
                                      f"inputs, the layer before gives {width}")
                if layer.n_in * layer.n_out > 1 << 28:
                    raise ConfigError(f"model {self.name}: layer {layer.name} has "
                                      f"{layer.n_in * layer.n_out:,} weights, more than 2^28")
                width = layer.n_out


@dataclass
class StepResult:
    batch: int
    components: list[Component]
    correct: bool
    checked: bool
    max_abs_error: float
    kernel_runs: list[RunResult]

    @property
    def ns(self) -> float:
        return sum(c.ns for c in self.components)


def simulate_step(model: Model, kernel, batch: int, config: HardwareConfig,
                  provenance: dict, options: RunOptions, seed: int = 0) -> StepResult:
    """One inference step: the host, then each layer's forward in order."""
    step = Step(kernel, config, provenance, options, model.weights(seed), batch)
    step.add(Component("host step", "host", config.host.host_step_ns))
    x0 = model.inputs(batch, seed)
    x = x0
    for layer in model.layers:
        x = layer.forward(x, step)
    reference = reference_for(kernel)
    ok = all(r.functional.correct for r in step.kernel_runs)
    if reference is None:  # the operator has no reference: the step cannot be checked
        return StepResult(batch, step.components, ok, False, 0.0, step.kernel_runs)
    expected = model.reference(x0, step.weights, reference)
    close = np.allclose(x, expected, rtol=1e-5, atol=1e-5)
    err = float(np.max(np.abs(x - expected))) if x.size else 0.0
    return StepResult(batch, step.components, bool(ok and close), True, err, step.kernel_runs)
