"""A feed-forward model whose custom operator runs a GPSIMD kernel on the simulator.

Each layer is an operator object (LLMCompass's style): it knows its forward computation,
its NumPy reference and its cost (and, for training, its backward), so a new layer kind is
a new class here, not a branch in the step loop. Matmuls and log_softmax are computed with
NumPy and timed in closed form (``costs``); a ``CustomOp`` runs the user's kernel on the
real activations through the full simulator, so its output feeds the next layer and its time
is simulated, not assumed.

Every part of a step's time is a ``Component`` that keeps its cost as a function of the
configuration (``cost(config, kernel_time)``), so a finished step can be re-timed on another
configuration without running anything again (``StepResult.time_under``): calibration and
the error bands (gpsimd_sim/uncertainty) rely on it.

The iteration (``iteration_ns``) is a two-stage pipeline, host and device: the benchmark
loop never waits for the device (torch-xla's ``mark_step`` returns before the device
finishes, and nothing reads a result inside the loop), so the host may trace and launch
step k+1 while the device runs step k. A share ``host_overlap`` of the host step can hide
behind the device, the rest cannot; in steady state an iteration takes

    max(host, device + (1 - host_overlap) * host)

which is the serial sum at 0 and the longer of the two at 1 (docs/calibration.md).
"""
from __future__ import annotations

import hashlib
import inspect
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..cachefiles import workload_dir, write_atomic
from ..config.hardware import HardwareConfig
from ..functional.executor import reference_for
from ..report import analysis
from ..simulation import RunOptions, RunResult
from . import costs
from .retime import replay_ns

# Components whose time is the host's; every other kind runs on the device.
HOST_KINDS = ("host",)
# Components kept aside while they take no time (a mechanism the preset leaves out at its
# point estimate): not part of the step a report or a trace shows, but re-timed on other
# configurations (``StepResult.latent``).
LATENT_KINDS = ("return_copy",)


@dataclass
class Component:
    """One part of an iteration's time, and how to recompute it on another configuration:
    ``cost(config, kernel_time) -> ns``, where ``kernel_time(run, config)`` replays a kernel
    run (``run``, for a custom operator)."""
    name: str
    kind: str          # host, matmul, launch, custom_op, return_copy, vector, sgd
    ns: float
    detail: dict = field(default_factory=dict)
    cost: Callable | None = field(default=None, repr=False, compare=False)
    run: object = field(default=None, repr=False, compare=False)

    def time_under(self, config: HardwareConfig, kernel_time=replay_ns) -> float:
        return self.cost(config, kernel_time) if self.cost is not None else self.ns


def iteration_ns(parts, overlap: float) -> float:
    """An iteration's time from its (kind, ns) parts: the host/device pipeline above.
    At ``overlap`` 0 it is the plain sum, in order (so the serial figures stay bit for bit)."""
    if overlap <= 0:
        return sum(ns for _, ns in parts)
    host = sum(ns for kind, ns in parts if kind in HOST_KINDS)
    device = sum(ns for kind, ns in parts if kind not in HOST_KINDS)
    return max(host, device + (1.0 - overlap) * host)


@dataclass
class Step:
    """What the layers of one simulated step share: the kernel(s), the hardware, the
    weights, and the parts of the step's time and kernel runs so far."""
    kernel: object
    config: HardwareConfig
    provenance: dict
    options: RunOptions
    weights: Mapping
    batch: int
    components: list = field(default_factory=list)
    kernel_runs: list = field(default_factory=list)
    backward_kernel: object = None
    grads: dict = field(default_factory=dict)
    latent: list = field(default_factory=list)

    def add(self, *components: Component) -> None:
        for c in components:
            (self.latent if c.kind in LATENT_KINDS and not c.ns else self.components).append(c)

    def run_kernel(self, kernel, args: list) -> RunResult:
        from .runcache import kernel_run
        r = kernel_run(kernel, args, self.config, self.provenance, self.options)
        self.kernel_runs.append(r)
        return r


def _fixed(getter):
    """A component cost that reads one parameter."""
    return lambda config, kernel_time: getter(config)


def _closed_form(name: str, kind: str, cost_of, *args, config: HardwareConfig) -> Component:
    """A component timed by a ``costs`` function, ``cost_of(*args, config)`` (its dict is the
    detail), and re-costed by the same call on another configuration."""
    cost = cost_of(*args, config)
    return Component(name, kind, cost["ns"], cost,
                     cost=lambda cfg, kernel_time: cost_of(*args, cfg)["ns"])


def _kernel_component(name: str, r: RunResult, kernel) -> Component:
    return Component(name, "custom_op", r.simulated_ns, {
        "shape": list(r.functional.output.shape), "correct": r.functional.correct,
        "dma_transfers": sum(t.transfers for t in r.timing.cores),
        # only the limiter: the whole JSON result (config dump included) is not needed
        "limiter": analysis.limiter(r.timing, r.functional.traces, r.config,
                                    kernel.multicore)["message"]},
        cost=lambda config, kernel_time: kernel_time(r, config), run=r)


def _return_copy_component(name: str, kernel, output: np.ndarray,
                           config: HardwareConfig) -> list[Component]:
    """The runtime's copy of a tensor a single-core kernel returns (none for multicore
    kernels, which write get_dst_tensor()); zero at the preset's point estimate."""
    if kernel.multicore:
        return []
    return [_closed_form(f"{name} return copy", "return_copy", costs.return_copy_ns,
                         int(output.nbytes), config=config)]


def _launch(name: str, config: HardwareConfig) -> Component:
    return Component(f"{name} launch", "launch", config.neuroncore.custom_op_launch_ns,
                     cost=_fixed(lambda c: c.neuroncore.custom_op_launch_ns))


# -- layer outputs, remembered ---------------------------------------------------------------
# A matmul's output depends only on the weights and its input: the three variants of
# `validate`, every refit and the reference pass see the same inputs, so each product is
# computed once (kept in memory, and in the user cache folder when the weights have a stable
# identity: seeded weights of a model; weights changed by a training step have none).
_OUTPUTS: OrderedDict = OrderedDict()
_OUTPUTS_SIZE = 64


def _digest(x: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(str((x.shape, x.dtype.str)).encode())
    h.update(np.ascontiguousarray(x).view(np.uint8).reshape(-1).data)
    return h.hexdigest()


def _remembered(token: str | None, what: str, x: np.ndarray, compute) -> np.ndarray:
    if token is None:
        return compute()
    key = (token, what, _digest(x))
    hit = _OUTPUTS.get(key)
    if hit is not None:
        _OUTPUTS.move_to_end(key)
        return hit.copy()
    path = workload_dir() / f"{token}-{what}-{key[2]}.npy"
    out = None
    try:
        out = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        out = None
    if out is None:
        out = compute()
        write_atomic(path, lambda fh: np.save(fh, out, allow_pickle=False), binary=True)
    _OUTPUTS[key] = out
    if len(_OUTPUTS) > _OUTPUTS_SIZE:
        _OUTPUTS.popitem(last=False)
    return out.copy()


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

    def reference(self, x: np.ndarray, weights: Mapping, custom_reference=None) -> np.ndarray:
        def compute():
            w, b = weights[self.name]
            return (x @ w.T + b).astype(np.float32)
        return _remembered(getattr(weights, "token", None), self.name, x, compute)

    def forward(self, x: np.ndarray, step: Step) -> np.ndarray:
        step.add(_closed_form(self.name, "matmul", costs.matmul_ns, step.batch, self.n_in,
                              self.n_out, config=step.config))
        return self.reference(x, step.weights)

    # -- training ------------------------------------------------------------------------
    def reference_backward(self, grad: np.ndarray, x: np.ndarray, weights: Mapping,
                           need_input_grad: bool = True):
        """(input gradient or None, (weight gradient, bias gradient))."""
        w, _ = weights[self.name]
        gw = (grad.T @ x).astype(np.float32)
        gb = grad.sum(axis=0, dtype=np.float32)
        gx = (grad @ w).astype(np.float32) if need_input_grad else None
        return gx, (gw, gb)

    def backward(self, grad: np.ndarray, x: np.ndarray, step: Step,
                 need_input_grad: bool = True) -> np.ndarray | None:
        """The weight gradient (and the input gradient, unless this is the first layer) on
        the Tensor engine, timed like the forward matmul."""
        shape = (step.batch, self.n_in, self.n_out)
        step.add(_closed_form(f"{self.name} weight grad", "matmul", costs.weight_grad_ns,
                              *shape, config=step.config))
        if need_input_grad:
            step.add(_closed_form(f"{self.name} input grad", "matmul", costs.input_grad_ns,
                                  *shape, config=step.config))
        gx, grads = self.reference_backward(grad, x, step.weights, need_input_grad)
        step.grads[self.name] = grads
        return gx

    def sgd(self, step: Step, lr: float) -> tuple[np.ndarray, np.ndarray]:
        """``p -= lr * p.grad`` for the weight and the bias, on device memory."""
        step.add(_closed_form(f"{self.name} sgd", "sgd", costs.sgd_update_ns,
                              self.n_in * self.n_out + self.n_out, config=step.config))
        return sgd_update(step.weights[self.name], step.grads[self.name], lr)


def sgd_update(params, grads, lr: float):
    """SGD without momentum or weight decay, in float32 as torch does it."""
    lr32 = np.float32(lr)
    return tuple((p - lr32 * g).astype(np.float32) for p, g in zip(params, grads))


@dataclass(frozen=True)
class CustomOp:
    """The custom operator (``my_ops.Relu.apply``): the kernel file, run on the simulator.

    Any kernel whose first tensor input is the activation and whose other arguments have
    defaults can be the operator; its reference is the kernel's own. In training, the
    backward kernel takes (gradient, the forward's input), like the sample's
    ``relu_backward(t_grad, t_in)``.
    """
    name: str

    def reference(self, x: np.ndarray, weights: Mapping, custom_reference=None) -> np.ndarray:
        return np.asarray(custom_reference(x))

    def forward(self, x: np.ndarray, step: Step) -> np.ndarray:
        step.add(_launch(self.name, step.config))
        a = np.ascontiguousarray(x)
        args = [a] + [p.default for p in step.kernel.params[1:]]
        r = step.run_kernel(step.kernel, args)
        out = r.functional.output
        step.add(_kernel_component(self.name, r, step.kernel),
                 *_return_copy_component(self.name, step.kernel, out, step.config))
        return out

    def reference_backward(self, grad: np.ndarray, x: np.ndarray, backward_reference):
        return np.asarray(backward_reference(grad, x))

    def backward(self, grad: np.ndarray, x: np.ndarray, step: Step) -> np.ndarray:
        kernel = step.backward_kernel
        name = f"{self.name} backward"
        step.add(_launch(name, step.config))
        args = [np.ascontiguousarray(grad), np.ascontiguousarray(x)]
        args += [p.default for p in kernel.params[2:]]
        r = step.run_kernel(kernel, args)
        out = r.functional.output
        step.add(_kernel_component(name, r, kernel),
                 *_return_copy_component(name, kernel, out, step.config))
        return out


@dataclass(frozen=True)
class LogSoftmax:
    """``torch.log_softmax(x, dim=1)`` on the Vector engine."""
    name: str

    def reference(self, x: np.ndarray, weights: Mapping, custom_reference=None) -> np.ndarray:
        m = x.max(axis=1, keepdims=True)
        z = x - m
        return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32)

    def forward(self, x: np.ndarray, step: Step) -> np.ndarray:
        step.add(vector_component(self.name, step.batch, x.shape[1], step.config))
        return self.reference(x, step.weights)

    def reference_backward(self, grad: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient through log_softmax given its output ``y``: g - softmax * sum(g)."""
        return (grad - np.exp(y) * grad.sum(axis=1, keepdims=True)).astype(np.float32)

    def backward(self, grad: np.ndarray, y: np.ndarray, step: Step) -> np.ndarray:
        step.add(vector_component(f"{self.name} backward", step.batch, y.shape[1],
                                  step.config))
        return self.reference_backward(grad, y)


def vector_component(name: str, batch: int, width: int, config: HardwareConfig) -> Component:
    return _closed_form(name, "vector", costs.elementwise_op_ns, batch, width, config=config)


class Weights(Mapping):
    """A model's seeded weights, made on first use (11.6 M values take a while, and a step
    whose matmul outputs are remembered never needs them). ``token`` names them stably, so
    the layer outputs computed from them can be remembered across runs."""

    def __init__(self, model: "Model", seed: int):
        self.model, self.seed = model, seed
        src = inspect.getsource(Linear.init_weights) + np.__version__
        ident = repr((model.name, model.input_size,
                      [(type(layer).__name__, getattr(layer, "name", ""),
                        getattr(layer, "n_in", 0), getattr(layer, "n_out", 0))
                       for layer in model.layers], seed, src))
        self.token = f"w{hashlib.sha256(ident.encode()).hexdigest()[:16]}"
        self._data: dict | None = None

    def _made(self) -> dict:
        if self._data is None:
            rng = np.random.default_rng(self.seed)
            self._data = {layer.name: layer.init_weights(rng) for layer in self.model.layers
                          if hasattr(layer, "init_weights")}
        return self._data

    def __getitem__(self, key):
        return self._made()[key]

    def __iter__(self):
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())


_WEIGHTS: dict = {}


@dataclass
class Model:
    name: str
    input_size: int
    layers: list

    def weights(self, seed: int) -> Weights:
        """Every layer's weights, seeded; one model's kept at a time (they are 46 MB)."""
        key = (self.name, self.input_size, tuple(self.layers), seed)
        if key not in _WEIGHTS:
            _WEIGHTS.clear()
            _WEIGHTS[key] = Weights(self, seed)
        return _WEIGHTS[key]

    def inputs(self, batch: int, seed: int) -> np.ndarray:
        """A batch of MNIST-like images: pixel values in [0, 1) like ``ToTensor()``, flattened."""
        return np.random.default_rng(seed + 1).random((batch, self.input_size), dtype=np.float32)

    def labels(self, batch: int, seed: int, classes: int) -> np.ndarray:
        """A batch of class labels (for training)."""
        return np.random.default_rng(seed + 2).integers(0, classes, batch)

    def reference(self, x: np.ndarray, weights: Mapping, custom_reference) -> np.ndarray:
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
    overlap: float = 0.0          # host_overlap of the configuration it ran on
    latent: list = field(default_factory=list)   # zero at this configuration, not shown

    @property
    def ns(self) -> float:
        """The iteration's time: the host/device pipeline (``iteration_ns``)."""
        return iteration_ns([(c.kind, c.ns) for c in self.components], self.overlap)

    @property
    def host_ns(self) -> float:
        return sum(c.ns for c in self.components if c.kind in HOST_KINDS)

    @property
    def device_ns(self) -> float:
        return sum(c.ns for c in self.components if c.kind not in HOST_KINDS)

    def time_under(self, config: HardwareConfig, kernel_time=replay_ns) -> float:
        """This step's time on another configuration: every component (latent ones too)
        re-costed, every kernel run re-timed by ``kernel_time(run, config)``, nothing run
        again."""
        parts = [(c.kind, c.time_under(config, kernel_time))
                 for c in self.components + self.latent]
        return iteration_ns(parts, config.host.host_overlap)


def host_component(config: HardwareConfig, factor_of=None) -> Component:
    """The host step (training scales it by ``train_host_factor``)."""
    if factor_of is None:
        return Component("host step", "host", config.host.host_step_ns,
                         cost=_fixed(lambda c: c.host.host_step_ns))
    return Component("host step", "host", config.host.host_step_ns * factor_of(config),
                     {"train_host_factor": factor_of(config)},
                     cost=_fixed(lambda c: c.host.host_step_ns * factor_of(c)))


def simulate_step(model: Model, kernel, batch: int, config: HardwareConfig,
                  provenance: dict, options: RunOptions, seed: int = 0) -> StepResult:
    """One inference step: the host, then each layer's forward in order."""
    step = Step(kernel, config, provenance, options, model.weights(seed), batch)
    step.add(host_component(config))
    x0 = model.inputs(batch, seed)
    x = x0
    for layer in model.layers:
        x = layer.forward(x, step)
    reference = reference_for(kernel)
    ok = all(r.functional.correct for r in step.kernel_runs)
    overlap = config.host.host_overlap
    if reference is None:  # the operator has no reference: the step cannot be checked
        return StepResult(batch, step.components, ok, False, 0.0, step.kernel_runs, overlap,
                          step.latent)
    expected = model.reference(x0, step.weights, reference)
    close = np.allclose(x, expected, rtol=1e-5, atol=1e-5)
    err = float(np.max(np.abs(x - expected))) if x.size else 0.0
    return StepResult(batch, step.components, bool(ok and close), True, err, step.kernel_runs,
                      overlap, step.latent)
