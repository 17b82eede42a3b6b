"""Error bands: the preset's point estimate beside the spread of the ensemble.

A band is the 5th to 95th percentile of the ensemble members' values, widened where needed
so that it contains the point estimate (a point estimate outside its own band would be a
contradiction a reader should not have to resolve; ``widened`` says when it happened).
The functional stage never runs again: members re-time the records of the run at hand.

- ``run_band(result)``: a kernel run (``RunResult``): ``simulated_ns_band``.
- ``model_band(result)``: a whole-model result (``ModelResult``, ``TrainingResult``):
  ``iter_per_s_band``.
- ``validate_bands(preset)``: each documented point's band (from the cached refit).
"""
from __future__ import annotations

import numpy as np

from ..errors import SimError
from ..isolation import start_in_child
from ..workload.retime import KernelTimer, element_counts
from .ensemble import DEFAULT_SEED, Ensemble, get_ensemble

PERCENTILES = (5.0, 95.0)


def band(point: float, samples, percentiles=PERCENTILES) -> dict:
    """{low, high, median, widened}: the percentiles of the finite ``samples``, widened to
    contain ``point``; just the point when there are no samples."""
    s = np.asarray([v for v in samples if v is not None], dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return {"low": point, "high": point, "median": point, "widened": True, "samples": 0}
    lo, hi = (float(v) for v in np.percentile(s, percentiles))
    return {"low": min(lo, point), "high": max(hi, point), "median": float(np.median(s)),
            "widened": bool(point < lo or point > hi), "samples": int(s.size)}


def pinned_keys(provenance: dict | None) -> frozenset:
    """Parameters a run fixed with ``--set``: members keep the run's value."""
    return frozenset(k for k, p in (provenance or {}).items()
                     if p.get("confidence") == "override")


def _meta(ens: Ensemble, b: dict, used: int, **extra) -> dict:
    return {"preset": ens.preset, "members": ens.size, "members_used": used, "seed": ens.seed,
            "percentiles": list(PERCENTILES), "median": b["median"], "widened": b["widened"],
            "drawn": len(ens.sampled), "refitted": list(ens.refit), **extra}


SPLIT_RECORDS = 50_000   # records a run needs before its members are timed on more cores


def member_times(result, configs: list, jobs: int = 1) -> list[float]:
    """The simulated ns of ``result``'s records on each configuration, in order.

    With ``jobs`` > 1 and a run of ``SPLIT_RECORDS`` records or more, the members the
    timer must replay (``KernelTimer.from_profiles`` is false) are shared out among
    ``jobs - 1`` forked children and this process, which also takes every member timed
    from the profiles. Each member's time is the same bits wherever it is computed; a
    child that fails has its members timed here instead.
    """
    timer = KernelTimer()
    traces = result.functional.traces
    if jobs <= 1 or sum(len(tr.records) for tr in traces) < SPLIT_RECORDS:
        return [timer(result, c) for c in configs]
    replayed = [i for i, c in enumerate(configs) if not timer.from_profiles(result, c)]
    parts = [replayed[k::jobs] for k in range(jobs)]
    times: dict[int, float] = {}

    def part(indices):
        return [timer(result, configs[i]) for i in indices]

    # parts[0] and every closed-form member are timed here; the other parts in children
    children = [(indices, start_in_child(part, indices, what="the error band"))
                for indices in parts[1:] if indices]
    theirs = {i for indices in parts[1:] for i in indices}
    try:
        for i, c in enumerate(configs):
            if i not in theirs:
                times[i] = timer(result, c)
        while children:
            indices, child = children.pop(0)
            try:
                values = child.result()[0]
            except SimError:   # the child died (out of memory?): time its members here
                values = part(indices)
            times.update(zip(indices, values))
    finally:   # leaving early (an error here, Ctrl-C): no child is left running
        for _, child in children:
            child.cancel()
    return [times[i] for i in range(len(configs))]


def run_band(result, members: int | None = None, seed: int = DEFAULT_SEED,
             ensemble: Ensemble | None = None, preset: str | None = None,
             jobs: int = 1) -> dict:
    """The band of a kernel run's simulated time.

    Returns ``{"simulated_ns", "simulated_ns_band": [low, high], "band": {...}}``; the
    run's own figures are untouched. Every member is used (a kernel's time does not involve
    the host, so the fit points rule none out); a member's refitted
    ``element_access_ns`` is used only when the kernel makes element-wise accesses (then
    the refit comes from the ensemble cache, or is made once). ``jobs``: processes a large
    run's members may be timed in (``member_times``); the band is the same.
    """
    ens = ensemble or get_ensemble(preset or result.options.preset, members, seed)
    pinned = pinned_keys(result.provenance)
    reads, writes, _ = element_counts(result.functional.traces)
    needs_fit = bool(reads or writes) and "element_access_ns" in ens.refit \
        and "memory.element_access_ns" not in pinned
    fits = ens.fits() if needs_fit else None
    configs = [ens.config(i, result.config, pinned,
                          {"element_access_ns": fits[i].fitted["element_access_ns"]}
                          if fits else None) for i in range(ens.size)]
    samples = member_times(result, configs, jobs)
    point = result.simulated_ns
    b = band(point, samples)
    return {"simulated_ns": point, "simulated_ns_band": [b["low"], b["high"]],
            "band": _meta(ens, b, ens.size, refit_used=needs_fit,
                          relative=[b["low"] / point, b["high"] / point] if point else None)}


def model_band(result, members: int | None = None, seed: int = DEFAULT_SEED,
               ensemble: Ensemble | None = None, preset: str | None = None,
               documented: float | None = None) -> dict:
    """The band of a whole-model throughput (``ModelResult`` or ``TrainingResult``): every
    member consistent with the fit points, its fitted values in, every step re-timed.

    Returns ``{"iter_per_s", "iter_per_s_band": [low, high], "band": {...}}`` and, with
    ``documented``, ``documented_in_band``.
    """
    from ..workload.calibration import retimed_ips
    ens = ensemble or get_ensemble(preset or result.config.name, members, seed)
    pinned = pinned_keys(result.provenance)
    fits = ens.fits()
    timer = KernelTimer()
    timer.seed_steps(result)
    samples = [retimed_ips(result, ens.config(i, result.config, pinned, f.fitted), timer)
               for i, f in enumerate(fits) if f.consistent]
    point = result.iter_per_s
    b = band(point, samples)
    out = {"iter_per_s": point, "iter_per_s_band": [b["low"], b["high"]],
           "band": _meta(ens, b, len(samples), members_ruled_out=ens.size - len(samples))}
    if documented is not None:
        out["documented_in_band"] = bool(b["low"] <= documented <= b["high"])
    return out


def validate_bands(preset: str = "trn1", members: int | None = None, seed: int = DEFAULT_SEED,
                   model_path: str | None = None) -> dict:
    """Each documented point's band: the members' refitted predictions (made with the
    refit, so they cost nothing once cached), plus the one-at-a-time table."""
    from ..workload.calibration import DEFAULT_MODEL, validate
    model_path = model_path or DEFAULT_MODEL
    ens = get_ensemble(preset, members, seed)
    fits = ens.fits(model_path)
    rows = {}
    for r in validate(preset, model_path):
        v = r["variant"]
        samples = [f.predictions.get(v) for f in fits if f.consistent]
        b = band(r["simulated_iter_per_s"], samples)
        rows[v] = {"iter_per_s_band": [b["low"], b["high"]], "median": b["median"],
                   "widened": b["widened"]}
    used = sum(f.consistent for f in fits)
    info = {"preset": preset, "members": ens.size, "members_used": used, "seed": seed,
            "percentiles": list(PERCENTILES), "drawn": list(ens.sampled),
            "refitted": list(ens.refit), "from_cache": ens.from_cache,
            "build_s": ens.build_s}
    return {"rows": rows, "ensemble": info, "one_at_a_time": ens.one_at_a_time}


def band_text(point: float, low: float, high: float, unit: str = "", scale: float = 1.0,
              fmt: str = ".2f") -> str:
    """'608.57 us (band 420.11 to 980.02 us)': a figure with its band, for summaries."""
    u = f" {unit}" if unit else ""
    return (f"{point / scale:{fmt}}{u} (band {low / scale:{fmt}} to {high / scale:{fmt}}{u}, "
            f"5-95% of the ensemble)")


def add_validate_bands(doc: dict, members: int | None = None, seed: int = DEFAULT_SEED,
                       model_path: str | None = None) -> dict:
    """A ``validation_report`` document with each row's band, whether the documented value
    lies inside it, and the verdict judged on the bands."""
    from ..workload.calibration import validation_passed
    info = validate_bands(doc["preset"], members=members, seed=seed,
                          model_path=model_path or doc.get("model"))
    for r in doc["rows"]:
        b = info["rows"][r["variant"]]
        r["iter_per_s_band"] = b["iter_per_s_band"]
        r["documented_in_band"] = (b["iter_per_s_band"][0] <= r["documented_iter_per_s"]
                                   <= b["iter_per_s_band"][1])
    doc["bands"] = info["ensemble"]
    doc["one_at_a_time"] = info.get("one_at_a_time")
    doc["passed"] = validation_passed(doc)
    return doc
