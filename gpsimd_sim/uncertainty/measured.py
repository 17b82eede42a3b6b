"""Calibration from your own measurements: time the microbenchmarks on a trn1, fit the
parameters they pin, and narrow the bands.

The microbenchmark set (kernels/microbench/manifest.toml) is a list of kernel calls: the TCM
kernel at buffer sizes 64 to 4096 floats (transfers change, bytes do not: the DMA fixed
cost), the same with empty() (the zeros() fill), a copy with no compute (DMA bandwidth; the
loop), the multicore kernel at 1, 2, 4 and 8 cores (how cores share DMA), the element-wise
kernel at three sizes on all-positive and all-negative inputs (two reads and a write, or one
of each, per element: the read and write costs; the sizes: the per-call overhead) and a null
kernel (the launch and the returned tensor). A measurement is the device time of one call
(docs/calibration.md gives the CSV format and how to time it).

``calibrate_from_measurements(csv, preset)`` simulates each point once and fits
``dma_fixed_ns``, ``dma_bytes_per_ns``, ``element_access_ns``, ``element_write_fraction``
and ``custom_op_launch_ns`` by weighted least squares (Gauss-Newton on the simulator itself:
each evaluation re-times the recorded runs), with the covariance from the residuals
(``s^2 (J^T J)^-1``); the mechanisms the points can tell apart (``loop_vectorised``,
``fill_chunk_bytes``, ``return_copy``) are chosen by the smallest residual, one after the
other. The result carries its provenance and can be written as a preset that extends the
one it started from (confidence "measured", ranges of two standard errors), which the
ensemble then draws from: the bands narrow by what the measurements pin.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import io
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config.presets import FIELD_INDEX, load_config, load_ranges, value_of, with_values
from ..errors import ConfigError, SimError
from ..frontend import load
from ..report.output import write_atomic
from ..simulation import simulate_loaded
from ..workload.costs import return_copy_ns
from ..workload.retime import KernelTimer
from ..workload.run import kernel_options, resolve_path

MANIFEST = "kernels/microbench/manifest.toml"
CSV_COLUMNS = ("name", "kernel", "shape", "cores", "buffer_size", "input", "measured_ns",
               "std_ns", "repeats", "sdk_version", "instance")
FIT_NAMES = ("dma_fixed_ns", "dma_bytes_per_ns", "element_access_ns", "element_write_fraction",
             "custom_op_launch_ns")
MECHANISM_NAMES = ("loop_vectorised", "fill_chunk_bytes", "return_copy")
INPUTS = ("normal", "positive", "negative")
# Bounds of the fitted values (the parametrisation fits 1/dma_bytes_per_ns: time is linear in it)
_BOUNDS = {"dma_fixed_ns": (0.0, 1e6), "dma_bytes_per_ns": (1e-3, 1e6),
           "element_access_ns": (0.0, 1e6), "element_write_fraction": (0.0, 1.0),
           "custom_op_launch_ns": (0.0, 1e8)}


@dataclass(frozen=True)
class BenchPoint:
    name: str
    kernel: str
    shape: tuple
    cores: int = 1
    buffer_size: int | None = None
    input: str = "normal"

    def args(self, seed: int = 0) -> list:
        x = np.random.default_rng(seed).standard_normal(self.shape).astype(np.float32)
        if self.input == "positive":
            x = np.abs(x) + np.float32(0.1)
        elif self.input == "negative":
            x = -np.abs(x) - np.float32(0.1)
        return [x]


def _point(d: dict, where: str) -> BenchPoint:
    try:
        shape = d["shape"]
        if isinstance(shape, str):
            shape = [int(s) for s in shape.lower().split("x")]
        shape = tuple(int(s) for s in shape)
        cores = int(d.get("cores") or 1)
        buf = d.get("buffer_size")
        buf = int(buf) if buf not in (None, "") else None
        inp = d.get("input") or "normal"
        name, kernel = str(d["name"]), str(d["kernel"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: malformed point ({type(exc).__name__}: {exc})") from None
    if not shape or any(s <= 0 for s in shape) or cores < 1 or inp not in INPUTS:
        raise ConfigError(f"{where}: point {name}: shape, cores or input out of range "
                          f"(input one of {', '.join(INPUTS)})")
    return BenchPoint(name, kernel, shape, cores, buf, inp)


def manifest_points(path: str = MANIFEST) -> list[BenchPoint]:
    """The microbenchmark points of a manifest (kernels/microbench/manifest.toml)."""
    p = Path(resolve_path(path))
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the manifest: {exc}") from None
    return [_point(d, f"{path}") for d in data.get("point", [])]


def read_measurements(csv_path: str) -> list[tuple[BenchPoint, float, float | None, dict]]:
    """(point, measured ns, its standard error or None, the row) for each CSV row."""
    try:
        text = Path(csv_path).read_text()
    except OSError as exc:
        raise ConfigError(f"{csv_path}: cannot read measurements: {exc.strerror}") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ConfigError(f"{csv_path}: no measurements (columns: {', '.join(CSV_COLUMNS)})")
    out = []
    for n, row in enumerate(rows, start=2):
        where = f"{csv_path}:{n}"
        point = _point(row, where)
        try:
            measured = float(row["measured_ns"])
            std = float(row["std_ns"]) if row.get("std_ns") not in (None, "") else None
        except (KeyError, ValueError):
            raise ConfigError(f"{where}: measured_ns (and std_ns, if given) must be numbers")
        if not measured > 0 or (std is not None and not std > 0):
            raise ConfigError(f"{where}: measured_ns and std_ns must be positive")
        out.append((point, measured, std, row))
    return out


def write_measurements(path: str, rows: list[dict]) -> str:
    """A measurements CSV (``CSV_COLUMNS``), written atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in CSV_COLUMNS})
    write_atomic(path, buf.getvalue())
    return str(path)


class BenchRuns:
    """The points run once (functional stage); ``predict(config)`` re-times them: the time
    of one call is the launch, the kernel, and the runtime's copy of a returned tensor."""

    def __init__(self, points: list[BenchPoint], config, provenance, seed: int = 0,
                 isolate: bool | None = None):
        self.points = points
        self.runs = []
        self.timer = KernelTimer()
        kernels: dict = {}
        for p in points:
            if p.kernel not in kernels:
                kernels[p.kernel] = load(p.kernel)
            kernel = kernels[p.kernel]
            options = kernel_options(p.kernel, isolate, shape=p.shape,
                                     cores=p.cores if kernel.multicore else None,
                                     buffer_size=p.buffer_size, seed=seed, timeout_s=None)
            try:
                run = simulate_loaded(kernel, p.args(seed), config, provenance, options)
            except SimError as exc:
                raise SimError(f"microbenchmark {p.name}: {exc}") from None
            self.runs.append(run)
            self.timer.seed(run)

    def predict(self, config) -> np.ndarray:
        out = []
        for run in self.runs:
            ns = config.neuroncore.custom_op_launch_ns + self.timer(run, config)
            if not run.kernel.multicore:
                ns += return_copy_ns(int(run.functional.output.nbytes), config)["ns"]
            out.append(ns)
        return np.array(out)


def simulate_measurements(points: list[BenchPoint], config, provenance, noise: float = 0.0,
                          seed: int = 0, sdk_version: str = "simulated") -> list[dict]:
    """What a trn1 with ``config``'s parameters would measure (for tests and to see what a
    set of points can pin): CSV rows, with relative Gaussian ``noise`` if asked."""
    runs = BenchRuns(points, config, provenance)
    rng = np.random.default_rng(seed)
    rows = []
    for p, ns in zip(points, runs.predict(config)):
        measured = float(ns * (1.0 + noise * rng.standard_normal())) if noise else float(ns)
        rows.append({"name": p.name, "kernel": p.kernel, "shape": "x".join(map(str, p.shape)),
                     "cores": p.cores, "buffer_size": p.buffer_size or "", "input": p.input,
                     "measured_ns": repr(measured),
                     "std_ns": repr(float(abs(noise * ns))) if noise else "", "repeats": "",
                     "sdk_version": sdk_version, "instance": "simulated"})
    return rows


def _to_internal(name: str, value: float) -> float:
    return 1.0 / value if name == "dma_bytes_per_ns" else value


def _from_internal(name: str, u: float) -> float:
    low, high = _BOUNDS[name]
    if name == "dma_bytes_per_ns":
        return float(min(max(1.0 / max(u, 1e-12), low), high))
    return float(min(max(u, low), high))


def _gauss_newton(runs: BenchRuns, config, names: list[str], measured: np.ndarray,
                  sigma: np.ndarray, max_iter: int):
    """Weighted least squares of the continuous ``names`` (within their bounds); returns
    (internal values, Jacobian of the weighted residuals, residuals, final config)."""
    u = np.array([_to_internal(n, float(value_of(config, n))) for n in names])
    lo = np.array([_to_internal(n, _BOUNDS[n][1] if n == "dma_bytes_per_ns" else _BOUNDS[n][0])
                   for n in names])
    hi = np.array([_to_internal(n, _BOUNDS[n][0] if n == "dma_bytes_per_ns" else _BOUNDS[n][1])
                   for n in names])

    def cfg_of(vec):
        return with_values(config, **{n: _from_internal(n, v) for n, v in zip(names, vec)})

    def resid(vec):
        return (runs.predict(cfg_of(vec)) - measured) / sigma

    def jac_at(vec, r):
        jac = np.empty((len(measured), len(names)))
        for j in range(len(names)):
            h = max(abs(vec[j]) * 1e-3, 1e-6 * (hi[j] - lo[j]) if np.isfinite(hi[j] - lo[j])
                    else 1e-6, 1e-12)
            if vec[j] + h > hi[j]:
                h = -h  # at the upper bound: step inwards
            step = vec.copy()
            step[j] += h
            jac[:, j] = (resid(step) - r) / h
        return jac

    r = resid(u)
    jac = jac_at(u, r)
    for _ in range(max_iter):
        delta = np.linalg.lstsq(jac, -r, rcond=None)[0]
        t, improved = 1.0, False
        while t >= 1 / 64:
            trial = np.clip(u + t * delta, lo, hi)
            r_trial = resid(trial)
            if r_trial @ r_trial < r @ r:
                improved = True
                break
            t /= 2
        if not improved:
            break
        gain = (r @ r - r_trial @ r_trial) / max(r @ r, 1e-300)
        small = np.all(np.abs(trial - u) <= 1e-9 * np.maximum(np.abs(u), 1e-300))
        u, r = trial, r_trial
        if gain < 1e-9 or small or r @ r < 1e-24 * len(r):
            break
        jac = jac_at(u, r)
    return u, jac_at(u, r), r, cfg_of(u)


@dataclass
class MeasuredFit:
    """Parameters fitted to measurements, with their uncertainty and provenance."""
    preset: str
    values: dict                 # name -> fitted value
    std: dict                    # name -> standard error
    correlation: list            # of the fitted values, in ``names`` order
    names: list
    mechanisms: dict             # name -> chosen alternative
    mechanism_table: list        # each alternative tried, with its weighted RSS
    not_pinned: list             # parameters the points do not determine (left at the preset)
    points: list                 # per point: name, measured_ns, fitted_ns, residual_pct
    dof: int
    rms_residual_pct: float
    provenance: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("preset", "values", "std", "correlation", "names",
                                               "mechanisms", "mechanism_table", "not_pinned",
                                               "points", "dof", "rms_residual_pct",
                                               "provenance")}

    def to_toml(self, name: str | None = None, sigmas: float = 2.0) -> str:
        """A preset that extends the one calibrated, with the measured values (confidence
        "measured", ranges of ``sigmas`` standard errors, drawn normally by the ensemble)
        and the chosen mechanisms pinned."""
        from ..config.presets import _merged, _preset_path
        base = _merged(_preset_path(self.preset))
        prov = self.provenance
        src = (f"calibrate_from_measurements({prov.get('csv')}, sha256 {prov.get('csv_sha256')}"
               f", {prov.get('points')} points, SDK {', '.join(prov.get('sdk_versions') or ['?'])}"
               f", {prov.get('date')}): rms residual {self.rms_residual_pct:.2f}%")
        lines = [f"# Written by gpsimd_sim.uncertainty.measured.calibrate_from_measurements on "
                 f"{prov.get('date')}.",
                 f"# Measured values win over the documented-point fit; the ranges are "
                 f"{sigmas:g} standard errors.",
                 f'name = "{name or (base.get("name", "preset") + "-measured")}"',
                 f'extends = "{self.preset}"']
        if base.get("fitted"):
            lines.append(f'fitted = "{base["fitted"]}"')
        sections: dict = {}
        for n in self.names:
            v, s = self.values[n], self.std[n]
            low, high = _BOUNDS[n]
            lo = max(low, v - sigmas * s) if np.isfinite(s) else low
            hi = min(high, v + sigmas * s) if np.isfinite(s) else high
            lo, hi = min(lo, v), max(hi, v)
            section, fname = FIELD_INDEX[n]
            sections.setdefault(section, []).append(
                f'{fname} = {{ value = {v!r}, low = {lo!r}, high = {hi!r}, dist = "normal", '
                f'range = "measured: {sigmas:g} standard errors ({s:.4g}) of the least-squares '
                f'fit", source = "{src}", confidence = "measured" }}')
        for n, v in self.mechanisms.items():
            section, fname = FIELD_INDEX[n]
            lit = str(v).lower() if isinstance(v, bool) else (f'"{v}"' if isinstance(v, str)
                                                             else repr(v))
            sections.setdefault(section, []).append(
                f'{fname} = {{ value = {lit}, alternatives = [{lit}], range = "chosen by the '
                f'smallest residual among its alternatives", source = "{src}", '
                f'confidence = "measured" }}')
        for section, entries in sections.items():
            lines += ["", f"[{section}]", *entries]
        return "\n".join(lines) + "\n"

    def write(self, path: str, name: str | None = None) -> str:
        """Write ``to_toml()`` to ``path`` atomically (the caller chooses where)."""
        write_atomic(path, self.to_toml(name))
        return str(path)


def calibrate_from_measurements(csv_path: str, preset: str = "trn1",
                                parameters=FIT_NAMES, mechanisms=MECHANISM_NAMES,
                                max_iter: int = 12) -> MeasuredFit:
    """Fit ``parameters`` (and choose ``mechanisms``) from the measurements in ``csv_path``.

    Each measurement is weighted by its ``std_ns`` when given, else relatively (every point
    counts alike in %). Parameters the points do not determine are left at the preset's
    value and listed in ``not_pinned``. Standard errors: ``sqrt(diag(s^2 (J^T J)^-1))``
    with ``s^2`` the weighted residual sum of squares over the degrees of freedom.
    """
    data = read_measurements(csv_path)
    config, provenance = load_config(preset)
    points = [p for p, *_ in data]
    measured = np.array([m for _, m, _, _ in data])
    sigma = np.array([s if s is not None else m for _, m, s, _ in data])
    runs = BenchRuns(points, config, provenance)
    names = [n for n in parameters]
    for n in names:
        if n not in _BOUNDS:
            raise ConfigError(f"calibrate: cannot fit {n!r} from measurements (can: "
                              f"{', '.join(_BOUNDS)})")
    # what the points can pin: a parameter whose column of J is zero is not determined
    jac0 = _jacobian_at(runs, config, names, measured, sigma)
    scale = np.abs(jac0).max(axis=0)
    keep = [n for n, s in zip(names, scale) if s > 1e-9 * max(scale.max(), 1e-300)]
    not_pinned = [n for n in names if n not in keep]
    ranges = load_ranges(preset)
    table = []
    chosen = {}
    for mech in mechanisms:
        key = "{}.{}".format(*FIELD_INDEX[mech])
        rng = ranges.get(key)
        if rng is None or len(rng.alternatives) < 2:
            continue
        best = None
        for alt in rng.alternatives:
            cfg = with_values(config, **{mech: alt})
            u, _, r, _ = _gauss_newton(runs, cfg, keep, measured, sigma, max_iter)
            rss = float(r @ r)
            table.append({"parameter": mech, "value": alt, "weighted_rss": rss})
            if best is None or rss < best[0] * (1 - 1e-9):
                best = (rss, alt)
        chosen[mech] = best[1]
        config = with_values(config, **{mech: best[1]})
    u, jac, r, final = _gauss_newton(runs, config, keep, measured, sigma, max_iter)
    n, p = len(measured), len(keep)
    dof = n - p
    s2 = float(r @ r) / dof if dof > 0 else float("inf")
    try:
        cov_u = s2 * np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        cov_u = np.full((p, p), np.inf)
    values, std = {}, {}
    for j, name in enumerate(keep):
        values[name] = _from_internal(name, u[j])
        su = float(np.sqrt(max(cov_u[j, j], 0.0))) if np.isfinite(cov_u[j, j]) else float("inf")
        # delta method for the bandwidth, fitted as its inverse
        std[name] = float(su / u[j] ** 2) if name == "dma_bytes_per_ns" else su
    d = np.sqrt(np.clip(np.diag(cov_u), 1e-300, None))
    corr = (cov_u / np.outer(d, d)).tolist() if np.all(np.isfinite(cov_u)) else []
    fitted_ns = runs.predict(final)
    rel = (fitted_ns - measured) / measured
    rows = [{"name": pt.name, "measured_ns": float(m), "fitted_ns": float(f),
             "residual_pct": float(100 * e)}
            for pt, m, f, e in zip(points, measured, fitted_ns, rel)]
    digest = hashlib.sha256(Path(csv_path).read_bytes()).hexdigest()[:16]
    prov = {"csv": str(csv_path), "csv_sha256": digest, "points": n,
            "date": datetime.date.today().isoformat(),
            "sdk_versions": sorted({r.get("sdk_version") or "?" for *_, r in data}),
            "instances": sorted({r.get("instance") or "?" for *_, r in data}),
            "method": "weighted least squares (Gauss-Newton on the simulator), covariance "
                      "s^2 (J^T J)^-1 from the residuals; mechanisms by the smallest residual"}
    return MeasuredFit(preset, values, std, corr, keep, chosen, table, not_pinned, rows, dof,
                       float(100 * np.sqrt(np.mean(rel ** 2))), prov)


def _jacobian_at(runs: BenchRuns, config, names, measured, sigma) -> np.ndarray:
    base = (runs.predict(config) - measured) / sigma
    cols = []
    for n in names:
        v = float(value_of(config, n))
        low, high = _BOUNDS[n]
        h = max(abs(v) * 1e-2, 1e-3)
        if v + h > high:
            h = -h
        cols.append(((runs.predict(with_values(config, **{n: v + h})) - measured) / sigma
                     - base) / h)
    return np.column_stack(cols)
