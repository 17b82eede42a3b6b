"""Fit the parameters no public source gives, from named documented measurements; say what
each documented point tests.

The fit sees only the measurements in ``FIT_VARIANTS``; the others are held out and
validation reports them as predictions. The fit is Newton's method on the time per
iteration (the quantity the model adds up), with a finite-difference Jacobian, so it needs
no assumption that the model is linear in the parameters (it happens to be nearly so).

Each documented point is simulated once (``prepare``: the functional stage, the kernels'
replays, the matmul outputs); every later evaluation on another configuration re-times the
recorded steps (``StepResult.time_under`` with a ``KernelTimer``) instead of running the
model again, so a fit, a leave-one-out table or the sensitivity table costs replays of the
kernels' records at most, and nothing at all when only ``element_access_ns`` and
``host_step_ns`` change (they enter in closed form).
"""
from __future__ import annotations

import datetime
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..config.presets import load_config, user_fitted_path, value_of, with_values
from ..errors import SimError
from ..report.output import write_atomic
from .measurements import FIT_VARIANTS, FITTED_PARAMETERS, MEASUREMENTS, Measurement
from .retime import KernelTimer
from .run import ModelResult, load_model, run_model

DEFAULT_MODEL = "models/mlp.py"
# The validate document's layout; bumped when a key changes meaning (new keys do not).
VALIDATE_SCHEMA_VERSION = 3


def measurements_for(preset: str) -> list[Measurement]:
    if preset not in MEASUREMENTS:
        raise SimError(f"--preset {preset}: no documented measurements to calibrate against "
                       f"(have: {', '.join(MEASUREMENTS)})")
    return MEASUREMENTS[preset]


def simulate_measurement(m: Measurement, config, provenance, model_path=DEFAULT_MODEL):
    model, protocol = load_model(model_path)
    return run_model(model, protocol, m.kernel, config, provenance, cores=m.cores,
                     buffer_size=m.buffer_size, isolate=None)


# -- documented points, simulated once and re-timed ------------------------------------------
def retimed_ips(result: ModelResult, config, timer=None) -> float:
    """``result``'s throughput on ``config``: each step re-timed, nothing run again."""
    timer = timer or KernelTimer()
    return result.protocol.iterations_per_s(
        {b: s.time_under(config, timer) for b, s in result.steps.items()})


def functional_key(config) -> tuple:
    """What the functional stage reads from a configuration (cores and the TCM geometry):
    configurations that agree on it share their kernel runs."""
    return (config.core.cores, config.tcm)


class PreparedPoints:
    """Documented points simulated once on ``config``; ``seconds(cfg)`` re-times them."""

    def __init__(self, points: list[Measurement], config, provenance,
                 model_path: str = DEFAULT_MODEL):
        self.points = list(points)
        self.model_path = model_path
        self.results = [simulate_measurement(m, config, provenance, model_path)
                        for m in self.points]
        self.key = functional_key(config)
        self.timer = KernelTimer()
        for result in self.results:
            self.timer.seed_steps(result)

    def ips(self, config) -> np.ndarray:
        """Each point's throughput on ``config`` (as simulated, when it ran on it)."""
        return np.array([r.iter_per_s if r.config == config else
                         retimed_ips(r, config, self.timer) for r in self.results])

    def seconds(self, config) -> np.ndarray:
        return 1.0 / self.ips(config)

    def subset(self, variants) -> "PreparedPoints":
        out = object.__new__(PreparedPoints)
        keep = [i for i, m in enumerate(self.points) if m.variant in variants]
        out.points = [self.points[i] for i in keep]
        out.results = [self.results[i] for i in keep]
        out.model_path, out.key, out.timer = self.model_path, self.key, self.timer
        return out


_PREPARED: OrderedDict = OrderedDict()


def prepare(points: list[Measurement], config, provenance,
            model_path: str = DEFAULT_MODEL) -> PreparedPoints:
    """The points simulated once (remembered per points, model and functional key)."""
    key = (tuple(points), model_path, functional_key(config))
    hit = _PREPARED.get(key)
    if hit is None:
        hit = PreparedPoints(points, config, provenance, model_path)
        _PREPARED[key] = hit
        if len(_PREPARED) > 4:
            _PREPARED.popitem(last=False)
    return hit


def solve(seconds, config, names: list[str], target_s: np.ndarray, x0=None,
          tol_s: float = 1e-10, max_iter: int = 8):
    """Newton's method for ``names`` so that ``seconds(config with them)`` meets
    ``target_s`` (least squares when over-determined), values kept non-negative.
    Returns (values, residual seconds, iterations)."""
    x = np.array([float(value_of(config, n)) for n in names] if x0 is None else x0, float)

    def residual(values):
        cfg = with_values(config, **dict(zip(names, (float(v) for v in values))))
        return seconds(cfg) - target_s

    r = residual(x)
    it = 0
    for it in range(1, max_iter + 1):
        if np.max(np.abs(r)) < tol_s:
            break
        jac = np.empty((len(target_s), len(names)))
        for j in range(len(names)):
            step = x.copy()
            h = max(abs(x[j]) * 0.01, 1.0)
            step[j] += h
            jac[:, j] = (residual(step) - r) / h
        delta = np.linalg.lstsq(jac, -r, rcond=None)[0]
        t = 1.0
        while True:  # a full step unless it makes things worse (kinks of the pipeline max)
            trial = np.maximum(x + t * delta, 0.0)
            r_trial = residual(trial)
            if np.linalg.norm(r_trial) <= np.linalg.norm(r) or t < 1 / 64:
                break
            t /= 2
        x, r = trial, r_trial
    return dict(zip(names, (float(v) for v in x))), r, it


def jacobian(seconds, config, names: list[str]) -> np.ndarray:
    """d seconds / d parameter at ``config`` (relative steps of 1%)."""
    base = seconds(config)
    cols = []
    for n in names:
        v = float(value_of(config, n))
        h = max(abs(v) * 0.01, 1.0)
        cols.append((seconds(with_values(config, **{n: v + h})) - base) / h)
    return np.column_stack(cols)


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
    prepared = prepare(points, config, provenance, model_path)
    target = np.array([1.0 / m.iter_per_s for m in points])
    fitted, _, it = solve(prepared.seconds, config, list(FITTED_PARAMETERS), target,
                          tol_s=tol_s, max_iter=max_iter)
    final = with_values(config, **fitted)
    rows = []
    for m, ips in zip(points, prepared.ips(final)):
        ips = float(ips)
        rows.append({"variant": m.variant, "documented_iter_per_s": m.iter_per_s,
                     "simulated_iter_per_s": ips,
                     "error_pct": 100.0 * (ips - m.iter_per_s) / m.iter_per_s})
    return FitResult(preset, fitted, rows, it)


def write_fitted(result: FitResult, path=None) -> str:
    """Write the fitted values, with their provenance, where the preset loader reads them
    (or to ``path``)."""
    used = ", ".join(f"{p['variant']} ({p['documented_iter_per_s']:.4f} iter/s)"
                     for p in result.fit_points)
    today = datetime.date.today().isoformat()
    lines = [
        "# Written by `python -m gpsimd_sim calibrate`; do not edit by hand.",
        f"# Fitted on {today} to the documented {result.preset} throughputs: {used}.",
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
    path = path or user_fitted_path(result.preset)
    write_atomic(path, "\n".join(lines) + "\n")
    return str(path)


# -- validation ------------------------------------------------------------------------------
def _prepared_for(preset: str, model_path: str):
    config, provenance = load_config(preset)
    points = measurements_for(preset)
    return config, provenance, points, prepare(points, config, provenance, model_path)


def validate(preset: str = "trn1", model_path: str = DEFAULT_MODEL) -> list[dict]:
    """Every documented point beside the simulated one, with its role in the fit."""
    config, provenance, points, prepared = _prepared_for(preset, model_path)
    rows = []
    for m, result, ips in zip(points, prepared.results, prepared.ips(config)):
        ips = float(ips)
        rows.append({
            "variant": m.variant,
            "kernel": m.kernel,
            "documented_iter_per_s": m.iter_per_s,
            "simulated_iter_per_s": ips,
            "error_pct": 100.0 * (ips - m.iter_per_s) / m.iter_per_s,
            "role": "fit" if m.variant in FIT_VARIANTS else "prediction",
            "correct": result.correct,
            "source": m.source,
        })
    return rows


def _per_claimed(result: ModelResult, per_step) -> float:
    """A per-step quantity summed over the timed steps, per claimed iteration (the unit in
    which 1 / iter_per_s is measured)."""
    p = result.protocol
    return sum(per_step(result.steps[b]) for b in p.timed_batches()) / p.claimed_steps()


def _kernel_part(step, part: str) -> float:
    """DMA transfers (``transfers``) or their fixed cost in ns (``dma_fixed``: every transfer,
    fills included, pays it once) of the step's kernels, on each run's slowest core."""
    total = 0.0
    for run in step.kernel_runs:
        slowest = max(run.timing.cores, key=lambda c: c.end_ns)
        n = slowest.transfers
        total += n * run.config.dma.dma_fixed_ns if part == "dma_fixed" else n
    return total


def prediction_tests(prepared: PreparedPoints, config, names=FITTED_PARAMETERS) -> dict:
    """For each prediction: what it actually tests.

    If, for some fit point, the difference of the two times per iteration does not depend
    on any fitted parameter (their derivatives agree), the fitted values cancel: the
    prediction tests only that difference, the device-time step from the fit point's
    variant to its own. Said as a number, beside its documented value, with the share of it
    that is per-transfer DMA fixed cost and the fixed cost per transfer the documented
    value implies (every other part kept as simulated).
    """
    names = list(names)
    jac = jacobian(prepared.seconds, config, names)
    seconds = prepared.seconds(config)
    fit_idx = [i for i, m in enumerate(prepared.points) if m.variant in FIT_VARIANTS]
    out = {}
    for j, m in enumerate(prepared.points):
        if m.variant in FIT_VARIANTS:
            continue
        scale = np.maximum(np.abs(jac[j]), 1e-30)
        cancel = [i for i in fit_idx
                  if np.all(np.abs(jac[j] - jac[i]) <= 1e-6 * scale + 1e-18)]
        if not cancel:
            out[m.variant] = {"fitted_parameters_cancel": False,
                              "quantity": "the fitted values in combination with every other "
                                          "parameter (no fit point cancels them)",
                              "d_seconds_d_fitted": dict(zip(names, jac[j].tolist()))}
            continue
        i = cancel[0]
        ref, res = prepared.results[i], prepared.results[j]
        sim_delta = float(seconds[i] - seconds[j])
        doc_delta = 1.0 / prepared.points[i].iter_per_s - 1.0 / m.iter_per_s
        fixed = (_per_claimed(ref, lambda s: _kernel_part(s, "dma_fixed"))
                 - _per_claimed(res, lambda s: _kernel_part(s, "dma_fixed"))) * 1e-9
        transfers = (_per_claimed(ref, lambda s: _kernel_part(s, "transfers"))
                     - _per_claimed(res, lambda s: _kernel_part(s, "transfers")))
        per_transfer = config.dma.dma_fixed_ns
        implied = (float(per_transfer * (1.0 + (doc_delta - sim_delta) / fixed))
                   if fixed > 0 else None)
        out[m.variant] = {
            "fitted_parameters_cancel": True,
            "against": prepared.points[i].variant,
            "quantity": f"the device time per iteration saved going from "
                        f"'{prepared.points[i].variant}' to '{m.variant}' (both fitted "
                        f"parameters cancel)",
            "documented_ms": doc_delta * 1e3,
            "simulated_ms": sim_delta * 1e3,
            "dma_fixed_share_pct": 100.0 * fixed / sim_delta if sim_delta else None,
            "transfers_saved_per_iteration": transfers,
            "implied_dma_fixed_ns": implied,
            "preset_dma_fixed_ns": per_transfer,
        }
    return out


def leave_one_out(prepared: PreparedPoints, config, names=FITTED_PARAMETERS) -> list[dict]:
    """Each documented point predicted from a fit on the others, where the others still
    determine every fitted parameter (their Jacobian has full rank); otherwise said so."""
    names = list(names)
    rows = []
    for j, m in enumerate(prepared.points):
        others = [i for i in range(len(prepared.points)) if i != j]
        rest = prepared.subset([prepared.points[i].variant for i in others])
        jac = jacobian(rest.seconds, config, names)
        # relative sensitivities (d ln seconds / d ln parameter): float dust of a parameter a
        # point does not use is ~1e-14 there, not rescaled to look like a dependence
        values = np.array([max(abs(float(value_of(config, n))), 1.0) for n in names])
        norm = jac * values / np.maximum(np.abs(rest.seconds(config))[:, None], 1e-300)
        rank = int(np.linalg.matrix_rank(norm, tol=1e-9)) if len(others) else 0
        row = {"left_out": m.variant, "fitted_on": [prepared.points[i].variant for i in others],
               "identifiable": rank >= len(names)}
        if not row["identifiable"]:
            blind = [n for n, col in zip(names, norm.T) if not np.any(np.abs(col) > 1e-9)]
            row["reason"] = ("the other points do not depend on " + ", ".join(blind)
                             if blind else "the other points pin only a combination of "
                             + ", ".join(names))
            rows.append(row)
            continue
        target = np.array([1.0 / prepared.points[i].iter_per_s for i in others])
        fitted, resid, _ = solve(rest.seconds, config, names, target)
        cfg = with_values(config, **fitted)
        ips = float(retimed_ips(prepared.results[j], cfg, prepared.timer))
        row.update(fitted=fitted, predicted_iter_per_s=ips, documented_iter_per_s=m.iter_per_s,
                   error_pct=100.0 * (ips - m.iter_per_s) / m.iter_per_s,
                   fit_residual_max_s=float(np.max(np.abs(resid))))
        rows.append(row)
    return rows


def validation_report(preset: str = "trn1", model_path: str = DEFAULT_MODEL,
                      threshold_pct: float = 5.0) -> dict:
    """The validate document: fit rows and prediction rows apart, what each prediction
    tests and the leave-one-out table (``uncertainty.bands.add_validate_bands`` adds each
    row's band). ``validation_passed`` says pass or fail from the predictions alone."""
    config, provenance, points, prepared = _prepared_for(preset, model_path)
    rows = validate(preset, model_path)
    tests = prediction_tests(prepared, config)
    for r in rows:
        if r["role"] == "fit":
            r["tests"] = ("nothing: fitted, so it agrees by construction (two parameters, two "
                          "points)")
        else:
            t = tests[r["variant"]]
            r["tests"] = t["quantity"]
            r["test_detail"] = t
    doc = {
        "schema_version": VALIDATE_SCHEMA_VERSION,
        "preset": preset,
        "model": model_path,
        "fitted_parameters": list(FITTED_PARAMETERS),
        "fit_variants": list(FIT_VARIANTS),
        "threshold_pct": threshold_pct,
        "rows": rows,
        "fit": {"rows": [r["variant"] for r in rows if r["role"] == "fit"],
                "max_abs_error_pct": max((abs(r["error_pct"]) for r in rows
                                          if r["role"] == "fit"), default=0.0)},
        "prediction": {"rows": [r["variant"] for r in rows if r["role"] == "prediction"],
                       "max_abs_error_pct": max((abs(r["error_pct"]) for r in rows
                                                 if r["role"] == "prediction"), default=0.0)},
        "leave_one_out": leave_one_out(prepared, config),
        "bands": None,
    }
    doc["passed"] = validation_passed(doc)
    return doc


def validation_passed(doc: dict, threshold_pct: float | None = None) -> bool:
    """Pass or fail, from the prediction rows only (a fit row agrees by construction): each
    prediction's documented value inside its band when the document has bands, else within
    ``threshold_pct`` (default: the document's) of the simulated value."""
    threshold = doc.get("threshold_pct", 5.0) if threshold_pct is None else threshold_pct
    for r in doc["rows"]:
        if r["role"] != "prediction":
            continue
        if "documented_in_band" in r:
            if not r["documented_in_band"]:
                return False
        elif abs(r["error_pct"]) > threshold:
            return False
    return True


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
    ("preset, returned tensor copied once, one DMA each way", {"return_copy": "single"}),
    ("preset, returned tensor copied once in 4 KiB transfers", {"return_copy": "chunked"}),
    ("preset, element-wise writes posted", {"element_write_fraction": "0.1"}),
    ("preset, 10% of the host step hidden behind the device", {"host_overlap": "0.1"}),
    ("preset, the host step fully hidden behind the device", {"host_overlap": "1"}),
]


def sensitivity(preset: str = "trn1", model_path: str = DEFAULT_MODEL) -> list[dict]:
    """Refit under each candidate mechanism and report the held-out error."""
    rows = []
    points = measurements_for(preset)
    base0, provenance0 = load_config(preset, use_fitted=False)
    prepared = prepare(points, base0, provenance0, model_path)
    fit_points = [m for m in points if m.variant in FIT_VARIANTS]
    fit_prepared = prepared.subset(FIT_VARIANTS)
    target = np.array([1.0 / m.iter_per_s for m in fit_points])
    for label, overrides in MECHANISMS:
        base, provenance = load_config(preset, overrides, use_fitted=False)
        use = prepared if functional_key(base) == prepared.key else \
            prepare(points, base, provenance, model_path)
        fit_use = fit_prepared if use is prepared else use.subset(FIT_VARIANTS)
        fitted, _, _ = solve(fit_use.seconds, base, list(FITTED_PARAMETERS), target)
        cfg = with_values(base, **fitted)
        errors = {}
        for m, result in zip(use.points, use.results):
            if m.variant in FIT_VARIANTS:
                continue
            ips = float(retimed_ips(result, cfg, use.timer))
            errors[m.variant] = 100.0 * (ips - m.iter_per_s) / m.iter_per_s
        rows.append({"mechanism": label, "overrides": overrides, "fitted": fitted,
                     "held_out_error_pct": errors})
    return rows
