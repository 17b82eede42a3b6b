"""The ensemble behind every error band: members drawn from the preset's plausible ranges,
each refitted on the documented fit points.

A member is the preset with every ranged parameter drawn afresh (a number from its
``low``..``high``, a mechanism from its ``alternatives``; docs/calibration.md lists them
with their reasons). The parameters the documented measurements fit
(``element_access_ns``, ``host_step_ns``) are not drawn: each member fits them again on
the fit points, exactly as ``calibrate`` does for the preset, so a member reproduces the
documented throughputs it was fitted to and the spread of the ensemble is what those
measurements leave open. A member the fit points rule out (no non-negative fitted values
reproduce them) is dropped from whole-model bands and counted.

Draws are deterministic: parameter ``key`` of member ``i`` comes from the generator
``default_rng([seed, crc32(key)])``, so adding a range to one parameter leaves the draws of
the others as they were. Not drawn: parameters the functional stage reads (the core count
and the TCM geometry: they change what a kernel does, not only when) and parameters a
run pins with ``--set`` (confidence ``override``).

The refit is the expensive part (a replay of every documented point's kernels per
member); it is done once per preset content, seed and size and kept in the user cache
folder (``cache.py``), keyed also by the simulator's own source, the model file, the
kernels and the measurements, so it is never stale. Members replay only the timing stage
(``KernelTimer``: the records of the runs made once, ``simulate_timing`` per configuration).
"""
from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..config.hardware import HardwareConfig
from ..config.presets import (FIELD_INDEX, ParamRange, load_config, load_ranges,
                              preset_document_digest, with_values, _merged, _preset_path)
from .. import cachefiles as cache

DEFAULT_MEMBERS = 100
DEFAULT_SEED = 0
ENSEMBLE_VERSION = 1
# Parameters the functional stage reads: drawing them would change what a kernel does.
FUNCTIONAL_KEYS = frozenset({"core.cores", "tcm.tcm_pool_bytes", "tcm.tcm_width_bytes",
                             "tcm.stream_buffer_bytes", "tcm.fast_streams", "tcm.tcm_bytes"})


def draw(rng_range: ParamRange, n: int, seed: int) -> list:
    """``n`` values of one parameter, deterministic in (seed, the parameter's key)."""
    rng = np.random.default_rng([seed, zlib.crc32(rng_range.key.encode())])
    r = rng_range
    if r.dist == "choice":
        picks = rng.integers(0, len(r.alternatives), n)
        return [r.alternatives[int(k)] for k in picks]
    low, high = float(r.low), float(r.high)
    if r.dist == "log":
        x = np.exp(rng.uniform(math.log(low), math.log(high), n))
    elif r.dist == "normal":
        x = np.clip(rng.normal(float(r.value), (high - low) / 4.0, n), low, high)
    else:
        x = rng.uniform(low, high, n)
    if r.type == "int":
        return [int(min(max(round(v), r.low), r.high)) for v in x]
    return [float(v) for v in x]


def apply_values(base: HardwareConfig, values: dict) -> HardwareConfig:
    """``base`` with ``values`` (``section.field`` -> value) put in, checked."""
    return with_values(base, **values) if values else base


def fit_preset_of(preset: str) -> str | None:
    """Whose documented measurements a preset's fit uses (its ``fitted = ...``), if any we
    have measurements for."""
    from ..workload.measurements import MEASUREMENTS
    data = _merged(_preset_path(preset))
    name = data.get("fitted")
    return name if isinstance(name, str) and name in MEASUREMENTS else None


@dataclass
class MemberFit:
    """One member's refit: the fitted values, whether they reproduce the fit points, and
    the throughput it then predicts for every documented point."""
    fitted: dict
    consistent: bool
    residual_pct: list
    predictions: dict


@dataclass
class Ensemble:
    preset: str
    seed: int
    size: int
    ranges: dict                      # key -> ParamRange (every ranged parameter)
    sampled: list                     # keys drawn
    draws: list                       # per member: key -> value
    refit: list                       # bare names refitted on the fit points
    fit_preset: str | None
    digest: str
    _fits: list | None = field(default=None, repr=False)
    one_at_a_time: list | None = field(default=None, repr=False)
    build_s: float | None = None
    from_cache: bool = False

    def member_values(self, i: int, pinned=frozenset(), fitted: dict | None = None) -> dict:
        values = {k: v for k, v in self.draws[i].items() if k not in pinned}
        if fitted:
            for name, v in fitted.items():
                section, fname = FIELD_INDEX[name]
                key = f"{section}.{fname}"
                if key not in pinned:
                    values[key] = v
        return values

    def config(self, i: int, base: HardwareConfig, pinned=frozenset(),
               fitted: dict | None = None) -> HardwareConfig:
        """Member ``i`` on top of ``base`` (a run's configuration): its draws, and its
        refitted values when given, except the ``pinned`` keys."""
        return apply_values(base, self.member_values(i, pinned, fitted))

    # -- the refit -------------------------------------------------------------------------
    def fits(self, model_path: str | None = None) -> list[MemberFit]:
        """Every member refitted (from the cache, or made now and cached)."""
        if self._fits is None:
            self._load_or_build(model_path)
        return self._fits

    def _cache_key(self, model_path: str) -> tuple[str, dict]:
        from ..workload.measurements import MEASUREMENTS
        from ..workload.run import resolve_path
        points = MEASUREMENTS.get(self.fit_preset, [])
        parts = {"version": ENSEMBLE_VERSION, "ensemble": self.digest,
                 "code": cache.code_digest(), "model": cache.file_digest(resolve_path(model_path)),
                 "points": [[repr(m), cache.file_digest(resolve_path(m.kernel))] for m in points]}
        import hashlib
        import json
        key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]
        return key, parts

    def _load_or_build(self, model_path: str | None) -> None:
        from ..workload.calibration import DEFAULT_MODEL
        model_path = model_path or DEFAULT_MODEL
        if not self.refit:
            self._fits = [MemberFit({}, True, [], {}) for _ in range(self.size)]
            return
        key, parts = self._cache_key(model_path)
        path = cache.cache_dir() / f"{self.preset.replace('/', '_')[-40:]}-{key}.json"
        data = cache.read_json(path)
        if data and data.get("key") == key and len(data.get("fits", [])) == self.size:
            self._fits = [MemberFit(**f) for f in data["fits"]]
            self.one_at_a_time = data.get("one_at_a_time")
            self.build_s = data.get("build_s")
            self.from_cache = True
            return
        start = time.perf_counter()
        self._fits, self.one_at_a_time = _build_fits(self, model_path)
        self.build_s = time.perf_counter() - start
        cache.write_json_atomic(path, {"key": key, "parts": parts, "preset": self.preset,
                                       "seed": self.seed, "size": self.size,
                                       "build_s": self.build_s,
                                       "fits": [f.__dict__ for f in self._fits],
                                       "one_at_a_time": self.one_at_a_time})


def _refit_one(prepared, fit_sub, target, cfg, names):
    from ..workload.calibration import solve
    fitted, resid, _ = solve(fit_sub.seconds, cfg, names, target, tol_s=1e-10, max_iter=12)
    rel = [float(r / t) for r, t in zip(resid, target)]
    consistent = bool(np.max(np.abs(rel)) < 1e-6 or len(target) > len(names))
    final = with_values(cfg, **fitted)
    preds = dict(zip((m.variant for m in prepared.points),
                     (float(v) for v in prepared.ips(final))))
    return MemberFit(fitted, consistent, [100.0 * r for r in rel], preds)


def _build_fits(ens: Ensemble, model_path: str):
    """Refit every member on the fit points; also the one-at-a-time table (each ranged
    parameter at the ends of its range, the rest at the preset, refitted)."""
    from ..workload.calibration import prepare
    from ..workload.measurements import FIT_VARIANTS, MEASUREMENTS
    config, provenance = load_config(ens.preset)
    points = MEASUREMENTS[ens.fit_preset]
    prepared = prepare(points, config, provenance, model_path)
    fit_sub = prepared.subset(FIT_VARIANTS)
    target = np.array([1.0 / m.iter_per_s for m in fit_sub.points])
    fits = [_refit_one(prepared, fit_sub, target, ens.config(i, config), ens.refit)
            for i in range(ens.size)]
    held = [m for m in points if m.variant not in FIT_VARIANTS]

    def row(parameter, value, label, f: MemberFit) -> dict:
        return {"parameter": parameter, "value": value, "label": label,
                "consistent": f.consistent,
                "prediction_error_pct": {
                    m.variant: 100.0 * (f.predictions[m.variant] - m.iter_per_s) / m.iter_per_s
                    for m in held}}

    table = [row(None, None, "preset",
                 _refit_one(prepared, fit_sub, target, config, ens.refit))]
    for key in ens.sampled:
        r = ens.ranges[key]
        if r.dist == "choice":
            candidates = list(zip(r.alternatives, r.labels or [None] * len(r.alternatives)))
        else:
            candidates = [(r.low, "low"), (r.high, "high")]
        for value, label in candidates:
            if value == r.value:
                continue
            table.append(row(key, value, label, _refit_one(
                prepared, fit_sub, target, apply_values(config, {key: value}), ens.refit)))
    return fits, table


_ENSEMBLES: dict = {}


def get_ensemble(preset: str = "trn1", members: int | None = None,
                 seed: int = DEFAULT_SEED) -> Ensemble:
    """The ensemble of ``preset`` (drawn now; refitted on first need, from the cache when
    it can be)."""
    size = DEFAULT_MEMBERS if members is None else int(members)
    if size < 1:
        from ..errors import ConfigError
        raise ConfigError(f"--members {members}: an ensemble needs at least one member")
    digest = preset_document_digest(preset)
    key = (preset, digest, size, seed)
    hit = _ENSEMBLES.get(key)
    if hit is not None:
        return hit
    ranges = load_ranges(preset)
    fit_preset = fit_preset_of(preset)
    from ..workload.measurements import FITTED_PARAMETERS
    _, provenance = load_config(preset)
    refit = []
    if fit_preset:
        for name in FITTED_PARAMETERS:
            section, fname = FIELD_INDEX[name]
            if provenance[f"{section}.{fname}"]["confidence"] != "measured":
                refit.append(name)
    refit_keys = {"{}.{}".format(*FIELD_INDEX[n]) for n in refit}
    sampled = sorted(k for k, r in ranges.items()
                     if k not in FUNCTIONAL_KEYS and k not in refit_keys
                     and not (r.dist == "choice" and len(r.alternatives) < 2)
                     and not (r.dist != "choice" and r.low == r.high))
    columns = {k: draw(ranges[k], size, seed) for k in sampled}
    draws = [{k: columns[k][i] for k in sampled} for i in range(size)]
    ens = Ensemble(preset, seed, size, ranges, sampled, draws, refit, fit_preset,
                   f"{digest}-{size}-{seed}")
    if len(_ENSEMBLES) > 8:
        _ENSEMBLES.clear()
    _ENSEMBLES[key] = ens
    return ens
