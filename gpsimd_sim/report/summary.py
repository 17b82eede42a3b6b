"""The readable summary ``run`` prints."""
from __future__ import annotations


def _ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def _bytes(n: float) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def format_run(d: dict) -> str:
    """Summary of one run's JSON result, in the profiler's vocabulary."""
    cfg = d["config"]
    clock = cfg["core"]["clock_hz"]["value"]
    pool = cfg["tcm"]["tcm_pool_bytes"]["value"]
    shape = "x".join(map(str, d["shape"]))
    buf = f", buffer {d['buffer_size']}" if d.get("buffer_size") is not None else ""
    lines = [
        f"{d['kernel']} ({d['kernel_function']}): {shape} {d['dtype']}, {d['cores']} "
        f"core{'s' if d['cores'] != 1 else ''}{buf}, preset {cfg['preset']}, seed {d['seed']}",
        f"  correct          {'yes' if d['correct'] else 'NO'} (max |error| "
        f"{d['max_abs_error']:.3g}, {d['wrong_elements']} wrong elements, vs NumPy)",
        f"  simulated time   {_ns(d['simulated_ns'])} ({d['cycles']:,.0f} cycles at "
        f"{clock / 1e9:.2f} GHz)",
        f"  roofline bound   {_ns(d['bound_ns'])} ({d['bound_resource']}); simulated/bound "
        + (f"{d['simulated_over_bound']:.1f}x" if d["simulated_over_bound"] else "n/a"),
        f"  limited by       {d['limiter']['message']}",
        f"  DMA              {d['dma_transfers']} transfers + {d['fills']} fills, "
        f"{_bytes(d['dma_bytes'])} moved; throughput {d['dma_throughput_bytes_per_ns']:.2f} B/ns "
        f"= {d['dma_bandwidth_utilisation_pct']:.1f}% of the "
        f"{d['dma_bandwidth_limit_bytes_per_ns']:.0f} B/ns limit",
        f"  element accesses {d['element_accesses']:,}",
        f"  TCM peak         {d['tcm_peak_bytes']} B of a {pool} B pool per core"
        + (f"; {d['tcm_malloc_failures']} tcm_malloc failed" if d["tcm_malloc_failures"] else ""),
        "  per core         busy%  active%   compute   element  DMA fixed  DMA wait  DMA data"
        "      fill",
    ]
    for c in d["per_core"]:
        lines.append(
            f"    core {c['core']:<10d}{c['busy_pct']:6.1f}  {c['engine_active_pct']:6.1f}  "
            f"{_ns(c['compute_ns']):>9} {_ns(c['element_ns']):>9} {_ns(c['dma_fixed_ns']):>10} "
            f"{_ns(c['dma_wait_ns']):>9} {_ns(c['dma_transfer_ns']):>9} {_ns(c['fill_ns']):>9}")
    lines.append(f"  ({d['sim_events']} simulation events, {d['wall_s']:.2f} s wall)")
    return "\n".join(lines)
