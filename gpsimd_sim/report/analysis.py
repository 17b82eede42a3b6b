"""Roofline bound, fixed-cost floor, utilisation, and the resource that limits a kernel.

The bound is the time no schedule can beat with the preset's resources (LLMCompass's
roofline beside its simulation); the floor is the sum of fixed costs a core must pay one
after another. Both are lower bounds of the simulated time for any preset. The limiter is
read off the slowest core's time breakdown and phrased in the Neuron profiler's terms
(engine active, DMA, device memory) as advice a kernel developer can act on.
"""
from __future__ import annotations

from ..config.hardware import HardwareConfig
from ..records import Alloc, Compute, CoreTrace, Dma
from ..timing import costs
from ..timing.dma import dma_system_class
from ..timing.engine import TimingResult
from ..timing.kinds import ACTIVE, CATEGORIES, HANDLERS, Demand, Tally

NAMES = CATEGORIES  # the parts of a core's time, as the summary names them


def scan(trace: CoreTrace, config: HardwareConfig) -> tuple[Demand, float, Tally]:
    """One pass over a core's records: its demand on each resource (the bound), the fixed
    costs it pays in sequence (the floor) and its tallies. Kept on the trace with the
    configuration it was made for (the last one only: bands re-scan with their own): the
    reports ask for each several times, and records run to millions."""
    hit = trace.__dict__.get("_scan")
    if hit is not None and hit[0] is config:
        return hit[1]
    d, t, fixed = Demand(), Tally(), 0.0
    handlers = HANDLERS
    seen = {}   # id -> (demand, fixed) of Compute records met before: loops share them
    dma_fixed = config.dma.dma_fixed_ns
    dma_count = dma_bytes = 0   # whole numbers: added to the tallies at the end, exactly
    for r in trace.records:
        cls = type(r)
        if cls is Dma:   # the commonest kind, inline: DmaKind's demand, fixed cost, tally
            dma_bytes += r.nbytes
            fixed += dma_fixed
            dma_count += 1
            continue
        h = handlers[cls]
        if cls is Compute:   # a loop's calls that did the same work share one record
            costs_of = seen.get(id(r))
            if costs_of is None:
                costs_of = seen[id(r)] = (h.peak_work(r, config), h.fixed_ns(r, config))
            d.work_cycles += costs_of[0]
            fixed += costs_of[1]
            continue
        h.demand(r, config, d)
        fixed += h.fixed_ns(r, config)
        h.tally(r, t)
    d.dma_bytes += dma_bytes
    t["dma_transfers"] += dma_count
    t["dma_bytes"] += dma_bytes
    trace.__dict__["_scan"] = (config, (d, fixed, t))
    return d, fixed, t


def roofline(traces: list[CoreTrace], config: HardwareConfig) -> dict:
    """Lower bounds, in ns, from each resource taken alone at its peak rate.

    compute: every counted operation at the SIMD lanes' peak (scalar for a loop that reads
    through element accessors, which cannot vectorise), spread evenly over the cores;
    dma_bandwidth: all bytes at the most the cores can draw (the DMA system's peak: each
    core waits for its own transfer, so at most one channel per core, never more than the
    shared total); element_path: the busiest core's element accesses, one at a time.
    """
    ncores = max(1, len(traces))
    total = Demand()
    element_ns = 0.0
    for tr in traces:
        d = scan(tr, config)[0]
        total.work_cycles += d.work_cycles
        total.dma_bytes += d.dma_bytes
        element_ns = max(element_ns, d.element_ns)
    dma = dma_system_class(config)
    peak_bw = dma.peak_bytes_per_ns(config, ncores)
    bounds = {
        "compute": total.work_cycles / ncores * config.ns_per_cycle,
        "dma_bandwidth": total.dma_bytes / peak_bw,
        "element_path": element_ns,
    }
    resource = max(bounds, key=bounds.get)
    return {"bound_ns": bounds[resource], "bound_resource": resource,
            "bounds_ns": bounds, "peak_dma_bytes_per_ns": peak_bw,
            "dma_channels_in_use": dma.channels_in_use(config, ncores),
            "hbm_limited": dma.memory_limited(config, ncores)}


def fixed_cost_floor(traces: list[CoreTrace], config: HardwareConfig) -> float:
    """Largest sum, over cores, of the fixed costs that core pays in sequence."""
    return max((scan(tr, config)[1] for tr in traces), default=0.0)


def tally(trace: CoreTrace, config: HardwareConfig) -> Tally:
    """What one core's records add up to: transfers, bytes, fills, element accesses."""
    return scan(trace, config)[2]


def breakdown(t) -> dict:
    """Where one core's time went, in ns, by category (disjoint parts)."""
    return dict(t.parts)


def _us(ns: float) -> str:
    return f"{ns / 1e3:.2f} µs"


def _more_cores(ncores: int, config: HardwareConfig, multicore: bool | None, what: str) -> str:
    """Advice on spreading the work, or '' when every core is already in use."""
    total = config.core.cores
    if ncores >= total:
        return ""
    if multicore is False:
        return f"a multicore kernel on all {total} GPSIMD cores would {what}"
    return f"more cores (--cores {total}) would {what}"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _explain(key: str, core: int, trace: CoreTrace | None, timing: TimingResult,
             config: HardwareConfig | None, multicore: bool | None) -> tuple[str, str]:
    """(what, advice) for the part ``key`` of core ``core``'s time."""
    if config is None or trace is None:  # no context: the plain names
        return NAMES[key], ""
    ncores = len(timing.cores)
    recs = trace.records
    if key == "element":
        n = tally(trace, config)["element_accesses"]
        return (f"{NAMES[key]} ({n:,} accesses of device memory, "
                f"{config.memory.element_access_ns:.0f} ns each, one at a time)",
                "the TCM accessor (tensor_to_tcm / tcm_to_tensor) moves whole blocks per "
                "DMA and would help most")
    if key == "fill":
        return (NAMES[key], "if the kernel writes every output element, "
                + ("writing into get_dst_tensor()" if multicore else "empty() instead of zeros()")
                + " would skip the fill")
    ct = next(t for t in timing.cores if t.core == core)
    n_dma = ct.transfers - ct.fill_transfers   # every transfer but the fills'
    if key == "dma_fixed":
        avg = (ct.bytes - ct.fill_bytes) / n_dma if n_dma else 0.0
        what = (f"{NAMES[key]} ({n_dma} transfers averaging {avg:.0f} B: "
                f"{_us(config.dma.dma_fixed_ns)} to start each, "
                f"{_us(avg / config.dma.dma_bytes_per_ns)} to move its data)")
        pool, peak = config.tcm.tcm_pool_bytes, trace.tcm_peak_bytes
        bigger = ""
        if n_dma and 0 < peak and 2 * peak <= pool:
            bigger = (f"a larger buffer would help: the buffers use {peak} B of the {pool} B "
                      f"TCM pool, so {pool // peak}x larger fits, for {pool // peak}x fewer "
                      "transfers")
        cores = _more_cores(ncores, config, multicore, "overlap the transfers' fixed costs")
        return what, _join(bigger, cores) or ("the buffers already fill the TCM pool and "
                                              "every core is in use, so this is near the "
                                              "floor for this much data (see the fixed-cost "
                                              "floor)")
    if key == "dma_wait":
        return (f"{NAMES[key]} ({ncores} cores share {config.dma.dma_queues} queues)",
                "the DMA queues are saturated: more cores will not help, fewer bytes would")
    if key == "dma_transfer":
        dma = dma_system_class(config)
        if dma.memory_limited(config, ncores):
            return (f"{NAMES[key]}, held to the {dma.total_bytes_per_ns(config):g} GB/s of "
                    "device memory", "memory-bound: only moving fewer bytes would help")
        return (f"{NAMES[key]} at {config.dma.dma_bytes_per_ns:g} GB/s per DMA queue",
                _more_cores(ncores, config, multicore, "move data on several queues at once")
                or "DMA-bandwidth-bound: only moving fewer bytes would help")
    if key != "compute":  # stream accesses, tensor ops: the plain name
        return NAMES[key], ""
    calls = [r for r in recs if HANDLERS[type(r)].category == "compute"]
    loops = sorted({r.name for r in calls})
    scalar = calls and (not config.core.loop_vectorised
                        or not all(r.vectorisable for r in calls))
    lanes = costs.lanes(config, max((r.elem_bytes for r in calls), default=4))
    what = f"{NAMES[key]} {', '.join(loops)} ({len(calls)} calls)"
    return what, _join(
        f"the loop runs scalar: vectorised it would use {lanes} SIMD lanes" if scalar else "",
        _more_cores(ncores, config, multicore, "split the loop"),
        "" if scalar or ncores < config.core.cores else
        "every core is in use and the loop is vectorised: only fewer operations per element "
        "would help")


def _malloc_failure(traces: list[CoreTrace], config: HardwareConfig) -> dict | None:
    for tr in traces:
        for r in tr.records:
            if type(r) is Alloc and not r.ok:
                pool = config.tcm.tcm_pool_bytes
                return {"resource": "tcm_capacity", "share_pct": 0.0, "core": tr.core,
                        "message": f"tcm_malloc({r.nbytes} B) failed on core {tr.core} (line "
                                   f"{r.line}): the {pool} B TCM pool cannot hold it, so the "
                                   "kernel skipped the work that needed the buffer; ask for "
                                   f"at most {pool} B in all"}
    return None


def limiter(timing: TimingResult, traces: list[CoreTrace] | None = None,
            config: HardwareConfig | None = None, multicore: bool | None = None) -> dict:
    """What limits the kernel, with advice: the largest part of the slowest core's time.

    A failed tcm_malloc comes first (the kernel then skipped work, so its time means little);
    uneven work across cores is named after the part. Without ``traces`` and ``config``
    the message names the part and its share only.
    """
    if traces and config is not None:
        failed = _malloc_failure(traces, config)
        if failed:
            return failed
    if not timing.cores or timing.simulated_ns <= 0:
        return {"resource": "none", "share_pct": 0.0, "message": "the kernel took no time"}
    slowest = max(timing.cores, key=lambda t: t.end_ns)
    parts = breakdown(slowest)
    ranked = sorted(parts, key=parts.get, reverse=True)
    key = ranked[0]
    share = 100.0 * parts[key] / slowest.end_ns
    trace = next((tr for tr in traces or [] if tr.core == slowest.core), None)
    what, advice = _explain(key, slowest.core, trace, timing, config, multicore)
    message = f"{what}: {share:.0f}% of core {slowest.core}'s time"
    second = 100.0 * parts[ranked[1]] / slowest.end_ns
    if second >= 10.0:
        message += f" (then {NAMES[ranked[1]]}, {second:.0f}%)"
    mean = sum(t.end_ns for t in timing.cores) / len(timing.cores)
    uneven = ""
    if len(timing.cores) > 1 and slowest.end_ns > 1.1 * mean:
        uneven = (f"core {slowest.core} runs {100.0 * (slowest.end_ns / mean - 1):.0f}% longer "
                  "than the average core: the work is split unevenly")
    return {"resource": key, "share_pct": share, "core": slowest.core,
            "message": _join(message, advice, uneven)}


def utilisation(timing: TimingResult, config: HardwareConfig) -> dict:
    """Engine-active % per core (kinds.ACTIVE), DMA throughput and its share of the limit.

    The limit is what the cores that ran can draw (one DMA queue each, at most the queue
    count, never more than device memory); ``hbm_bandwidth_utilisation_pct`` is the
    profiler's memory-bandwidth utilisation (MBU) against device memory itself.
    """
    total = timing.simulated_ns
    dma_bytes = sum(t.bytes for t in timing.cores)
    transfers = sum(t.transfers for t in timing.cores)
    dma_ns = sum(sum(t.phases.values()) for t in timing.cores)
    moving_ns = sum(t.phases["transfer"] for t in timing.cores)
    throughput = dma_bytes / total if total else 0.0
    peak = dma_system_class(config).peak_bytes_per_ns(config, max(1, len(timing.cores)))
    hbm = config.memory.hbm_bytes_per_ns

    def pct(ns):
        return 100.0 * ns / total if total else 0.0

    return {
        # tensor_to_tcm / tcm_to_tensor and the zeros() fills' DMA transfers together
        "dma_transfers_total": transfers,
        "dma_bytes_total": dma_bytes,
        "dma_throughput_bytes_per_ns": throughput,
        "dma_bandwidth_limit_bytes_per_ns": peak,
        "dma_bandwidth_utilisation_pct": 100.0 * throughput / peak if peak else 0.0,
        "hbm_bandwidth_utilisation_pct": 100.0 * throughput / hbm if hbm else 0.0,
        "average_dma_bytes": dma_bytes / transfers if transfers else 0.0,
        # of the time cores spend on DMA, the part that moves data (the rest is fixed cost
        # and waiting for a queue)
        "dma_efficiency_pct": 100.0 * moving_ns / dma_ns if dma_ns else 0.0,
        # executing the kernel's own instructions (kinds.ACTIVE: compute, stream accesses,
        # tensor ops), the profiler's engine active; the rest of its time a core is stalled
        # on device memory or DMA, or done
        "engine_active_pct": [pct(sum(t.parts[k] for k in ACTIVE)) for t in timing.cores],
        "running_pct": [pct(t.end_ns) for t in timing.cores],
        "compute_active_pct": [pct(t.compute_ns) for t in timing.cores],
    }
