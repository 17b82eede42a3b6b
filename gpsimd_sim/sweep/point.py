"""Run one point of a sweep and flatten its result into one table row.

A row never depends on which process, thread or machine ran it (no wall times, no paths
of the worker), so every executor produces identical tables. A point that fails becomes a
row with its one-line error; the sweep goes on.
"""
from __future__ import annotations

import threading

from ..config.presets import FIELD_INDEX, load_config
from ..errors import SimError
from ..simulation import RunOptions, run
from ..workload.run import load_model, run_model
from .grid import SWEEP_SCHEMA_VERSION, Point, SweepSpec

# Columns of every row, in table order; the swept preset parameters go after ``cores``.
HEAD = ["schema_version", "point", "kernel", "mode", "shape", "preset", "seed",
        "buffer_size", "cores"]
RESULT = ["status", "retry", "correct", "band_low", "band_high", "tcm_malloc_failed",
          "tcm_malloc_failures", "simulated_ns", "cycles", "iter_per_s", "iteration_ns", "custom_op_share_pct", "bound_ns",
          "bound_resource", "simulated_over_bound", "bound_compute_ns",
          "bound_dma_bandwidth_ns", "bound_element_path_ns", "limiter", "limiter_share_pct",
          "limiter_message", "dma_transfers", "dma_bytes", "dma_bandwidth_utilisation_pct",
          "tcm_peak_bytes", "max_abs_error", "error"]


def columns(spec: SweepSpec) -> list[str]:
    return HEAD + spec.set_names + RESULT


def _empty_row(spec: SweepSpec, point: Point) -> dict:
    row = dict.fromkeys(columns(spec))
    row.update(schema_version=SWEEP_SCHEMA_VERSION, point=point.key, kernel=spec.kernel,
               mode="mlp" if spec.mlp else "kernel",
               shape="x".join(map(str, spec.shape)) if spec.shape else None,
               preset=spec.preset, seed=spec.seed, buffer_size=point.buffer_size,
               cores=point.cores)
    return row


def _config_value(config_dict: dict, name: str):
    section, fname = FIELD_INDEX[name]
    return config_dict[section][fname]["value"]


def _kernel_fields(d: dict) -> dict:
    bounds = d["bounds_ns"]
    return {"correct": d["correct"], "tcm_malloc_failures": d["tcm_malloc_failures"],
            "simulated_ns": d["simulated_ns"], "cycles": d["cycles"],
            "bound_ns": d["bound_ns"], "bound_resource": d["bound_resource"],
            "simulated_over_bound": d["simulated_over_bound"],
            "bound_compute_ns": bounds["compute"],
            "bound_dma_bandwidth_ns": bounds["dma_bandwidth"],
            "bound_element_path_ns": bounds["element_path"],
            "limiter": d["limiter"]["resource"], "limiter_share_pct": d["limiter"]["share_pct"],
            "limiter_message": d["limiter"]["message"], "dma_transfers": d["dma_transfers"],
            "dma_bytes": d["dma_bytes"],
            "dma_bandwidth_utilisation_pct": d["dma_bandwidth_utilisation_pct"],
            "tcm_peak_bytes": d["tcm_peak_bytes"], "max_abs_error": d["max_abs_error"]}


def _run_kernel(spec: SweepSpec, point: Point, overrides: list[str], timeout_s) -> dict:
    result = run(RunOptions(kernel=spec.kernel_file, shape=spec.shape, cores=point.cores,
                            buffer_size=point.buffer_size, preset=spec.preset,
                            overrides=overrides, seed=spec.seed, dtype=spec.dtype,
                            timeout_s=timeout_s))
    d = result.to_dict()
    fields = {**_kernel_fields(d), **{n: _config_value(d["config"], n) for n, _ in point.sets}}
    if spec.band:   # of the simulated time, ns
        from ..uncertainty import run_band
        lo, hi = run_band(result, members=spec.band_members, preset=spec.preset)[
            "simulated_ns_band"]
        fields.update(band_low=lo, band_high=hi)
    return fields


def _run_mlp(spec: SweepSpec, point: Point, overrides: list[str]) -> dict:
    """The MLP at this point: iter/s, plus the custom operator's time per iteration (the sum
    over its ReLU calls in the main-batch step) beside the sum of their roofline bounds."""
    config, provenance = load_config(spec.preset, overrides)
    model, protocol = load_model(spec.model)
    result = run_model(model, protocol, spec.kernel_file, config, provenance, cores=point.cores,
                       buffer_size=point.buffer_size, seed=spec.seed)
    d = result.to_dict()
    runs = [r.to_dict() for r in result.steps[protocol.batch].kernel_runs]
    slowest = max(runs, key=lambda r: r["simulated_ns"])
    summed = {k: sum(r[k] for r in runs) for k in ("simulated_ns", "cycles", "bound_ns",
                                                   "dma_transfers", "dma_bytes")}
    every_run = [r for s in result.steps.values() for r in s.kernel_runs]
    row = _kernel_fields(slowest)
    row.update(summed)
    row.update(correct=d["correct"], iter_per_s=d["iter_per_s"],
               iteration_ns=d["ms_per_iteration"] * 1e6,
               custom_op_share_pct=d["custom_op_share_pct"], max_abs_error=d["max_abs_error"],
               tcm_malloc_failures=sum(t.malloc_failures for r in every_run
                                       for t in r.functional.traces),
               simulated_over_bound=summed["simulated_ns"] / summed["bound_ns"]
               if summed["bound_ns"] else None,
               **{f"bound_{k}_ns": sum(r["bounds_ns"][k] for r in runs)
                  for k in ("compute", "dma_bandwidth", "element_path")})
    row.update({n: _config_value(d["config"], n) for n, _ in point.sets})
    if spec.band:   # of the iterations/s
        from ..uncertainty import model_band
        lo, hi = model_band(result, members=spec.band_members, preset=spec.preset)[
            "iter_per_s_band"]
        row.update(band_low=lo, band_high=hi)
    return row


def run_point(spec: SweepSpec, point: Point) -> dict:
    """Simulate one point; return its row (``status`` "ok", or "failed" with ``error``)."""
    overrides = list(spec.overrides) + [f"{name}={value}" for name, value in point.sets]
    # The wall-time limit uses SIGALRM, which only the main thread may set (a Dask worker
    # runs tasks in threads): elsewhere the step and iteration limits still stop a runaway.
    timeout_s = spec.timeout_s if threading.current_thread() is threading.main_thread() else None
    try:
        fields = _run_mlp(spec, point, overrides) if spec.mlp else \
            _run_kernel(spec, point, overrides, timeout_s)
    except SimError as exc:
        return failed_row(spec, point, str(exc), retry=not exc.deterministic)
    except Exception as exc:  # noqa: BLE001 - a simulator bug must not end the whole sweep
        return failed_row(spec, point, f"internal error: {type(exc).__name__}: {exc}",
                          retry=True)
    row = _empty_row(spec, point)
    row.update(fields, status="ok", retry=False,
               tcm_malloc_failed=fields["tcm_malloc_failures"] > 0)
    return row


def _as_number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def failed_row(spec: SweepSpec, point: Point, error: str, retry: bool) -> dict:
    """A point that did not finish; ``retry``: the outcome depends on the machine (a
    timeout, a dead worker, an internal error), so a resumed sweep runs it again."""
    row = _empty_row(spec, point)
    row.update(status="failed", error=error, retry=retry)
    for name, value in point.sets:   # as given: the configuration did not resolve
        row[name] = _as_number(value)
    return row
