"""Throughput of a whole model under its benchmark protocol, with the time broken down."""
from __future__ import annotations

import runpy
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from ..config.hardware import HardwareConfig
from ..config.presets import config_to_dict
from ..errors import SimError
from ..frontend import load
from ..shipped import is_shipped as shipped, resolve_path  # noqa: F401 - re-exported
from ..functional.loader import PythonKernel as LoadedKernel
from ..simulation import SCHEMA_VERSION, RunOptions
from .model import Model, StepResult, simulate_step
from .protocol import Protocol


def read_model_file(path: str) -> dict:
    """The names a model file defines (run as a script), its MODEL checked to be a Model."""
    resolved = resolve_path(path)
    if not Path(resolved).is_file():
        raise SimError(f"{path}: no such model file")
    try:
        ns = runpy.run_path(resolved)
    except Exception as exc:  # noqa: BLE001 - the user's model file failed to import
        raise SimError(f"{path}: error while importing the model: {type(exc).__name__}: {exc}") from None
    if not isinstance(ns.get("MODEL"), Model):
        raise SimError(f"{path}: defines no MODEL (a gpsimd_sim.workload.Model)")
    return ns


def load_model(path: str) -> tuple[Model, Protocol]:
    ns = read_model_file(path)
    model, protocol = ns["MODEL"], ns.get("PROTOCOL", Protocol())
    if not isinstance(protocol, Protocol):
        raise SimError(f"{path}: PROTOCOL is not a gpsimd_sim.workload.Protocol")
    try:
        model.check()
    except SimError as exc:
        raise SimError(f"{path}: {exc}") from None
    return model, protocol


@dataclass
class ModelResult:
    model: Model
    protocol: Protocol
    kernel: LoadedKernel
    config: HardwareConfig
    provenance: dict
    steps: dict[int, StepResult]      # by batch size
    iter_per_s: float
    wall_s: float

    @property
    def correct(self) -> bool:
        return all(s.correct for s in self.steps.values())

    @property
    def checked(self) -> bool:
        return all(s.checked for s in self.steps.values())

    def to_dict(self) -> dict:
        main = self.steps[self.protocol.batch]
        total = main.ns
        custom = sum(c.ns for c in main.components
                     if c.kind in ("custom_op", "launch", "return_copy"))
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model.name,
            "kernel": self.kernel.path,
            "batch": self.protocol.batch,
            "batches_timed": self.protocol.timed_batches(),
            "iter_per_s": self.iter_per_s,
            "ms_per_iteration": total / 1e6,
            "correct": self.correct,
            "checked": self.checked,
            "max_abs_error": max(s.max_abs_error for s in self.steps.values()),
            "custom_op_share_pct": 100.0 * custom / total if total else 0.0,
            "components": [{"name": c.name, "kind": c.kind, "ns": c.ns,
                            "share_pct": 100.0 * c.ns / total if total else 0.0, **{
                                k: v for k, v in c.detail.items() if k != "ns"}}
                           for c in main.components],
            "iteration": {"host_ns": main.host_ns, "device_ns": main.device_ns,
                          "host_overlap": main.overlap,
                          "hidden_ns": main.host_ns + main.device_ns - total},
            "step_ns_by_batch": {str(b): s.ns for b, s in self.steps.items()},
            "protocol": {"dataset_size": self.protocol.dataset_size,
                         "batch": self.protocol.batch,
                         "warmup_steps": self.protocol.warmup_steps,
                         "claimed_steps": self.protocol.claimed_steps(),
                         "timed_steps": len(self.protocol.timed_batches())},
            "wall_s": self.wall_s,
            "config": config_to_dict(self.config, self.provenance),
        }


def kernel_options(kernel_path: str, isolate: bool | None = None, **kw) -> RunOptions:
    """RunOptions for a workload's kernel; ``isolate`` False runs the functional stage in this
    process (only for shipped kernels by default: ``None``)."""
    options = RunOptions(kernel=kernel_path, **kw)
    if hasattr(options, "isolate"):
        if isolate is None:
            isolate = not shipped(kernel_path)
        options.isolate = bool(isolate) and options.isolate
    return options


def run_model(model: Model, protocol: Protocol, kernel_path: str, config: HardwareConfig,
              provenance: dict, cores: int | None = None, buffer_size: int | None = None,
              seed: int = 0, timeline: bool = False,
              isolate: bool | None = True) -> ModelResult:
    """Simulate one step per distinct batch size of the protocol and turn them into iter/s.
    ``isolate`` None runs shipped kernels in this process (validate and calibrate do)."""
    start = time.perf_counter()
    protocol.check()
    kernel = load(kernel_path)   # found by name if shipped, and named as given
    options = kernel_options(kernel_path, isolate, cores=cores, buffer_size=buffer_size,
                             seed=seed, timeline=timeline)
    steps = {b: simulate_step(model, kernel, b, config, provenance, options, seed)
             for b in protocol.step_batches()}
    ips = protocol.iterations_per_s({b: s.ns for b, s in steps.items()})
    return ModelResult(model, protocol, kernel, config, provenance, steps, ips,
                       time.perf_counter() - start)


def format_model(d: dict, band: dict | None = None) -> str:
    """Summary of a whole-model result: throughput (with its band, ``model_band``'s result,
    when given), where an iteration goes, and what limits each custom-operator call."""
    relus = [c for c in d["components"] if c["kind"] == "custom_op"]
    relu_share = sum(c["share_pct"] for c in relus)
    thr = f"{d['iter_per_s']:.2f} iterations/s"
    if band:
        lo, hi = band["iter_per_s_band"]
        thr += f" (band {lo:.2f} to {hi:.2f}, 5-95% of {band['band']['members_used']} members"
        if "documented_in_band" in band:
            thr += "; documented value " + ("inside" if band["documented_in_band"] else
                                            "OUTSIDE")
        thr += ")"
    lines = [f"{d['model']} with {d['kernel']}: batch {d['batch']}, preset {d['config']['preset']}",
             f"  throughput       {thr} "
             f"({d['protocol']['claimed_steps']} steps over the time of "
             f"{d['protocol']['timed_steps']}, as the benchmark script counts)",
             f"  correct          {'yes' if d['correct'] else 'NO'} (max |error| "
             f"{d['max_abs_error']:.3g} vs a NumPy forward pass)" if d.get("checked", True) else
             "  correct          NOT CHECKED: the custom operator's kernel has no reference",
             f"  per iteration    {d['ms_per_iteration']:.3f} ms; the custom operator "
             f"{d['custom_op_share_pct']:.1f}% with its launches, the GPSIMD kernel alone "
             f"{relu_share:.1f}%",
             "  component                      time      share"]
    for c in d["components"]:
        lines.append(f"    {c['name']:<26} {c['ns'] / 1e6:8.3f} ms {c['share_pct']:6.1f}%")
    it = d.get("iteration", {})
    if it.get("hidden_ns"):
        lines.append(f"    {'host work hidden':<26} {-it['hidden_ns'] / 1e6:8.3f} ms "
                     f"(host_overlap {it['host_overlap']:.2f} of the host step)")
    for c in relus:
        shape = "x".join(map(str, c.get("shape", [])))
        lines.append(textwrap.fill(f"{c['name']} [{shape}] limited by {c.get('limiter', '?')}",
                                   100, initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines)
