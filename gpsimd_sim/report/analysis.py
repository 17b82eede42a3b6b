"""Roofline bound, fixed-cost floor, utilisation, and the resource that limits a kernel.

The bound is the time no schedule can beat with the preset's resources (LLMCompass's
roofline beside its simulation); the floor is the sum of fixed costs a core must pay one
after another. The limiter is read off the slowest core's time breakdown and phrased as
advice a kernel developer can act on.
"""
from __future__ import annotations

from ..config.hardware import HardwareConfig
from ..functional.records import Compute, CoreTrace, Dma, ElementRun, Fill
from ..timing import costs
from ..timing.engine import TimingResult


def roofline(traces: list[CoreTrace], config: HardwareConfig) -> dict:
    """Lower bounds, in ns, from each resource taken alone at its peak rate."""
    ncores = max(1, len(traces))
    work_cycles = 0.0
    element_ns = 0.0
    dma_bytes = 0
    for tr in traces:
        core_elem = 0.0
        for r in tr.records:
            if type(r) is Compute:
                work_cycles += costs.compute_work_cycles(r, config) / costs.lanes(config, r.elem_bytes)
            elif type(r) is ElementRun:
                core_elem += costs.element_ns(r.reads, r.writes, config)
            elif type(r) is Dma or type(r) is Fill:
                dma_bytes += r.nbytes
        element_ns = max(element_ns, core_elem)
    peak_bw = min(config.memory.hbm_bytes_per_ns,
                  min(config.dma.dma_queues, ncores) * config.dma.dma_bytes_per_ns)
    bounds = {
        "compute": work_cycles / ncores * config.ns_per_cycle,
        "dma_bandwidth": dma_bytes / peak_bw,
        "element_path": element_ns,
    }
    resource = max(bounds, key=bounds.get)
    return {"bound_ns": bounds[resource], "bound_resource": resource,
            "bounds_ns": bounds, "peak_dma_bytes_per_ns": peak_bw}


def fixed_cost_floor(traces: list[CoreTrace], config: HardwareConfig) -> float:
    """Largest sum, over cores, of the fixed costs that core pays in sequence."""
    per_call = config.core.loop_call_cycles * config.ns_per_cycle
    floor = 0.0
    for tr in traces:
        total = 0.0
        for r in tr.records:
            if type(r) is Compute:
                total += per_call
            elif type(r) is Dma:
                total += config.dma.dma_fixed_ns
            elif type(r) is Fill:
                total += config.dma.dma_fixed_ns * len(costs.fill_chunks(r.nbytes, config))
        floor = max(floor, total)
    return floor


ADVICE = {
    "dma_fixed": ("per-transfer DMA fixed cost", "a larger buffer (fewer, bigger transfers) "
                  "or more cores would help"),
    "dma_wait": ("waiting for a free DMA queue", "the cores contend for DMA queues: more cores "
                 "will not help; bigger transfers amortise better"),
    "dma_transfer": ("DMA data movement", "bandwidth-bound: only more DMA bandwidth helps"),
    "compute": ("the compute loop", "a vectorised loop or more cores would help"),
    "element": ("element-wise accessor reads and writes", "the TCM accessor moves data in "
                "blocks and would help most"),
    "fill": ("the zeros() fill of the output", "empty() or get_dst_tensor() avoids it when "
             "every element is written"),
}


def breakdown(t) -> dict:
    """Where one core's time went, in ns (DMA parts exclude the zeros() fill)."""
    fill = t.fill_ns
    dma_total = t.dma_fixed_ns + t.dma_wait_ns + t.dma_transfer_ns
    scale = (dma_total - fill) / dma_total if dma_total else 0.0
    return {
        "compute": t.compute_ns,
        "element": t.element_ns,
        "dma_fixed": t.dma_fixed_ns * scale,
        "dma_wait": t.dma_wait_ns * scale,
        "dma_transfer": t.dma_transfer_ns * scale,
        "fill": fill,
    }


def limiter(timing: TimingResult) -> dict:
    """The largest part of the slowest core's time, with advice."""
    if not timing.cores or timing.simulated_ns <= 0:
        return {"resource": "none", "share_pct": 0.0, "message": "the kernel took no time"}
    slowest = max(timing.cores, key=lambda t: t.end_ns)
    parts = breakdown(slowest)
    key = max(parts, key=parts.get)
    share = 100.0 * parts[key] / slowest.end_ns if slowest.end_ns else 0.0
    what, advice = ADVICE[key]
    return {"resource": key, "share_pct": share, "core": slowest.core,
            "message": f"{what}: {share:.0f}% of core {slowest.core}'s time; {advice}"}


def utilisation(timing: TimingResult, config: HardwareConfig) -> dict:
    """Engine-active % per core, DMA throughput, and its share of the bandwidth limit."""
    total = timing.simulated_ns
    dma_bytes = sum(t.bytes for t in timing.cores)
    throughput = dma_bytes / total if total else 0.0
    peak = min(config.memory.hbm_bytes_per_ns,
               config.dma.dma_queues * config.dma.dma_bytes_per_ns)
    return {
        "dma_throughput_bytes_per_ns": throughput,
        "dma_bandwidth_limit_bytes_per_ns": peak,
        "dma_bandwidth_utilisation_pct": 100.0 * throughput / peak if peak else 0.0,
        # executing the kernel's own instructions (compute loops, element accesses), as the
        # profiler's engine-active; the rest of a core's time it is stalled on DMA or done
        "engine_active_pct": [100.0 * (t.compute_ns + t.element_ns) / total if total else 0.0
                              for t in timing.cores],
        "running_pct": [100.0 * t.end_ns / total if total else 0.0 for t in timing.cores],
        "compute_active_pct": [100.0 * t.compute_ns / total if total else 0.0
                               for t in timing.cores],
    }
