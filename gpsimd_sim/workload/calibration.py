"""Fit the parameters no public source gives, from named documented measurements.

The fit sees only the measurements in ``FIT_VARIANTS``; the others are held out and
validation reports them as predictions. The fit is Newton's method on the time per
iteration (the quantity the model adds up), with a finite-difference Jacobian, so it needs
no assumption that the model is linear in the parameters (it happens to be nearly so).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from ..config.presets import FIELD_INDEX, fitted_path, load_config, with_values
from ..errors import SimError
from ..report.output import write_atomic
from .measurements import FIT_VARIANTS, FITTED_PARAMETERS, MEASUREMENTS, Measurement
from .run import load_model, run_model

DEFAULT_MODEL = "models/mlp.py"


def measurements_for(preset: str) -> list[Measurement]:
    if preset not in MEASUREMENTS:
        raise SimError(f"--preset {preset}: no documented measurements to calibrate against "
                       f"(have: {', '.join(MEASUREMENTS)})")
    return MEASUREMENTS[preset]


def simulate_measurement(m: Measurement, config, provenance, model_path=DEFAULT_MODEL):
    model, protocol = load_model(model_path)
    return run_model(model, protocol, m.kernel, config, provenance, cores=m.cores,
                     buffer_size=m.buffer_size)


def _get(config, name):
    section, field = FIELD_INDEX[name]
    return getattr(getattr(config, section), field)


@dataclass
class FitResult:
    preset: str
    values: dict[str, float]
    fit_points: list[dict]
    iterations: int


def fit(preset: str = "trn1", model_path: str = DEFAULT_MODEL, tol_s: float = 1e-10,
        max_iter: int = 8, base=None, points: list[Measurement] | None = None) -> FitResult:
    """Solve for FITTED_PARAMETERS so the fit points' simulated s/iteration match.

    ``base`` is a (config, provenance) to start from; by default the preset without any
    earlier fit. ``points`` defaults to the preset's documented FIT_VARIANTS.
    """
    config, provenance = base or load_config(preset, use_fitted=False)
    if points is None:
        points = [m for m in measurements_for(preset) if m.variant in FIT_VARIANTS]
    names = list(FITTED_PARAMETERS)
    x = np.array([float(_get(config, n)) for n in names])
    target = np.array([1.0 / m.iter_per_s for m in points])

    def residual(values):
        cfg = with_values(config, **dict(zip(names, values)))
        sim = [1.0 / simulate_measurement(m, cfg, provenance, model_path).iter_per_s for m in points]
        return np.array(sim) - target

    r = residual(x)
    it = 0
    for it in range(1, max_iter + 1):
        if np.max(np.abs(r)) < tol_s:
            break
        jac = np.empty((len(points), len(names)))
        for j in range(len(names)):
            step = x.copy()
            h = max(abs(x[j]) * 0.01, 1.0)
            step[j] += h
            jac[:, j] = (residual(step) - r) / h
        delta = np.linalg.lstsq(jac, -r, rcond=None)[0]
        x = np.maximum(x + delta, 0.0)
        r = residual(x)
    fitted = dict(zip(names, (float(v) for v in x)))
    final = with_values(config, **fitted)
    rows = []
    for m in points:
        ips = simulate_measurement(m, final, provenance, model_path).iter_per_s
        rows.append({"variant": m.variant, "documented_iter_per_s": m.iter_per_s,
                     "simulated_iter_per_s": ips,
                     "error_pct": 100.0 * (ips - m.iter_per_s) / m.iter_per_s})
    return FitResult(preset, fitted, rows, it)


def write_fitted(result: FitResult) -> str:
    """Write the fitted values, with their provenance, where the preset loader reads them."""
    used = ", ".join(f"{p['variant']} ({p['documented_iter_per_s']:.4f} iter/s)"
                     for p in result.fit_points)
    today = datetime.date.today().isoformat()
    lines = [
        "# Written by `python -m gpsimd_sim calibrate`; do not edit by hand.",
        f"# Fitted on {today} to the documented trn1 throughputs: {used}.",
        "# Held out (predictions, never seen by the fit): every other documented point.",
        "",
    ]
    for name, value in result.values.items():
        lines.append(f"[parameters.{name}]")
        lines.append(f"value = {value!r}")
        lines.append(f'source = "fitted by `python -m gpsimd_sim calibrate` to: {used}"')
        lines.append("")
    lines.append("[fit]")
    lines.append(f"newton_iterations = {result.iterations}")
    for p in result.fit_points:
        key = p["variant"].replace(" ", "_").replace("-", "_").replace(",", "")
        lines.append(f"residual_pct.{key} = {p['error_pct']!r}")
    path = fitted_path(result.preset)
    write_atomic(path, "\n".join(lines) + "\n")
    return str(path)


def validate(preset: str = "trn1", model_path: str = DEFAULT_MODEL) -> list[dict]:
    """Every documented point beside the simulated one, with its role in the fit."""
    config, provenance = load_config(preset)
    rows = []
    for m in measurements_for(preset):
        result = simulate_measurement(m, config, provenance, model_path)
        rows.append({
            "variant": m.variant,
            "kernel": m.kernel,
            "documented_iter_per_s": m.iter_per_s,
            "simulated_iter_per_s": result.iter_per_s,
            "error_pct": 100.0 * (result.iter_per_s - m.iter_per_s) / m.iter_per_s,
            "role": "fit" if m.variant in FIT_VARIANTS else "prediction",
            "correct": result.correct,
            "source": m.source,
        })
    return rows


def validation_markdown(rows: list[dict], preset: str, threshold_pct: float) -> str:
    out = [f"# Validation ({preset})", "",
           "Generated by `python -m gpsimd_sim validate --markdown docs/validation.md`.", "",
           "| variant | documented iter/s | simulated iter/s | error | role |",
           "|---|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r['variant']} | {r['documented_iter_per_s']:.2f} | "
                   f"{r['simulated_iter_per_s']:.2f} | {r['error_pct']:+.2f}% | {r['role']} |")
    out += ["", "Roles: *fit* points were seen by `calibrate`, which fits only "
            + " and ".join(f"`{n}`" for n in FITTED_PARAMETERS) + "; *prediction* points never "
            "were. The multicore point did inform which mechanisms the model includes (the "
            "vectorised loop, the 4 KiB zeros() fill): see docs/calibration.md, section "
            "\"How the held-out point was used\"."]
    worst = max(abs(r["error_pct"]) for r in rows)
    held = [r for r in rows if r["role"] == "prediction"]
    out += ["", f"Worst error {worst:.2f}% (threshold {threshold_pct:g}%). "
            f"Held-out: " + ", ".join(f"{r['variant']} {r['error_pct']:+.2f}%" for r in held) + "."]
    return "\n".join(out) + "\n"


# Candidate mechanisms for the cost of a ReLU call that no source settles. Each is refitted
# (FITTED_PARAMETERS only) on the fit points and scored on the held-out points, so the
# reader sees how much the prediction hangs on each assumption.
MECHANISMS = [
    ("scalar loop, zeros() as one transfer (a priori)",
     {"loop_vectorised": "false", "fill_chunk_bytes": "0"}),
    ("scalar loop, zeros() in 4 KiB transfers", {"loop_vectorised": "false"}),
    ("vectorised loop, zeros() as one transfer", {"fill_chunk_bytes": "0"}),
    ("vectorised loop, zeros() in 4 KiB transfers (preset)", {}),
    ("preset, + one shared DMA queue holding its fixed cost",
     {"dma_queues": "1", "dma_fixed_holds_queue": "true"}),
    ("preset, DMA fixed cost 650 ns (half)", {"dma_fixed_ns": "650"}),
    ("preset, DMA fixed cost 2600 ns (double)", {"dma_fixed_ns": "2600"}),
    ("preset, DMA 17 B/ns per queue (the lowest page)", {"dma_bytes_per_ns": "17"}),
]


def sensitivity(preset: str = "trn1", model_path: str = DEFAULT_MODEL) -> list[dict]:
    """Refit under each candidate mechanism and report the held-out error."""
    rows = []
    held_out = [m for m in measurements_for(preset) if m.variant not in FIT_VARIANTS]
    for label, overrides in MECHANISMS:
        base, provenance = load_config(preset, overrides, use_fitted=False)
        result = fit(preset, model_path, base=(base, provenance))
        cfg = with_values(base, **result.values)
        errors = {}
        for m in held_out:
            ips = simulate_measurement(m, cfg, provenance, model_path).iter_per_s
            errors[m.variant] = 100.0 * (ips - m.iter_per_s) / m.iter_per_s
        rows.append({"mechanism": label, "overrides": overrides, "fitted": result.values,
                     "held_out_error_pct": errors})
    return rows
