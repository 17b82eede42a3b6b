"""The readable summary ``run`` prints, in the Neuron profiler's vocabulary.

Everything here is read from the JSON result (``RunResult.to_dict()``), so the summary and
``--json`` never disagree.
"""
from __future__ import annotations

import textwrap


def _ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def _bytes(n: float) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def _bound_reason(d: dict) -> str:
    """The roofline's limiting resource, in words."""
    resource = d["bound_resource"]
    cfg = d["config"]
    if resource == "dma_bandwidth":
        limit = d["dma_bandwidth_limit_bytes_per_ns"]
        hbm = cfg["memory"]["hbm_bytes_per_ns"]["value"]
        how = "device memory's bandwidth" if limit >= hbm else d.get("dma_system") or "DMA"
        return f"DMA bandwidth: {_bytes(d['dma_bytes_total'])} at {limit:.1f} GB/s ({how})"
    if resource == "compute":
        return (f"compute: every counted operation at the SIMD lanes' peak over "
                f"{d['cores']} core{'s' if d['cores'] != 1 else ''}")
    return "element-wise accesses of device memory, one at a time"


COLUMNS = [("compute", "compute"), ("element", "element"), ("stream", "stream"),
           ("tensor_op", "tensor op"), ("dma_fixed", "DMA fixed"), ("dma_wait", "DMA wait"),
           ("dma_transfer", "DMA data"), ("fill", "fill")]
OPTIONAL = ("stream", "tensor_op")   # shown only when some core spent time there


def _columns(d: dict) -> list[tuple[str, str]]:
    return [(k, label) for k, label in COLUMNS
            if k not in OPTIONAL or any(c.get(f"{k}_ns") for c in d["per_core"])]


def _per_core_row(c: dict, columns) -> str:
    # the parts are disjoint, so a row adds up to the core's running time
    cells = [c[f"{k}_ns"] for k, _ in columns]
    return (f"    core {c['core']:<4d}{c['busy_pct']:8.1f}{c['engine_active_pct']:8.1f}  "
            + " ".join(f"{_ns(x):>10}" for x in cells))


def _check(d: dict) -> str:
    """The correctness line: the verdict and its detail, or that nothing was checked."""
    if not d.get("checked", True):
        return ("NOT CHECKED: the kernel has no reference (@kernel(reference=...)), so its "
                "output was not compared with anything")
    c = d.get("check") or {}
    verdict = "yes" if d["correct"] else "NO"
    if c.get("mismatch"):
        return f"{verdict} ({c['mismatch']}, vs NumPy)"
    err = d["max_abs_error"]
    shown = "inf (elements never written)" if err is None else f"{err:.3g}"
    detail = f"{verdict} (max |error| {shown}, {d['wrong_elements']:,} wrong elements"
    if c.get("first_wrong_index") is not None:
        detail += (f"; first at {c['first_wrong_index']}: expected {c['expected_value']:.7g},"
                   f" got {c['actual_value']:.7g}")
    return detail + f"; rtol {c.get('rtol', 0):g}, atol {c.get('atol', 0):g}, vs NumPy)"


def _band(d: dict) -> str:
    """``; band 420.1 µs to 980.0 µs``: the 5-95% spread of the ensemble, when computed."""
    if not d.get("simulated_ns_band"):
        return ""
    lo, hi = d["simulated_ns_band"]
    return (f"\n                   band {_ns(lo)} to {_ns(hi)} (5-95% of "
            f"{d['band']['members']} ensemble members: how far to trust it, "
            "docs/calibration.md)")


def _overrides(cfg: dict) -> str:
    """`` with dma_fixed_ns=650`` for every value the command line overrode."""
    changed = [f"{name}={entry['value']:g}" if isinstance(entry["value"], float)
               else f"{name}={entry['value']}"
               for section, table in cfg.items() if isinstance(table, dict)
               for name, entry in table.items()
               if isinstance(entry, dict) and entry.get("confidence") == "override"]
    return f" with {', '.join(changed)}" if changed else ""


def _inputs(d: dict) -> str:
    """``32x4096 float32``, or each argument when the kernel takes several."""
    args = d.get("inputs") or []
    if len(args) <= 1:
        one = args[0] if args else d   # the result's own shape and dtype when none listed
        return f"{'x'.join(map(str, one['shape']))} {one['dtype']}"
    return ", ".join(f"{a['name']} {'x'.join(map(str, a['shape']))} {a['dtype']}"
                     if a["kind"] == "tensor" else f"{a['name']}={a['value']:g}" for a in args)


def format_run(d: dict) -> str:
    """Summary of one run's JSON result."""
    cfg = d["config"]
    clock = cfg["core"]["clock_hz"]["value"]
    pool = cfg["tcm"]["tcm_pool_bytes"]["value"]
    hbm = cfg["memory"]["hbm_bytes_per_ns"]["value"]
    buf = f", buffer {d['buffer_size']}" if d.get("buffer_size") is not None else ""
    ratio = d["simulated_over_bound"]
    active = [c["engine_active_pct"] for c in d["per_core"]]
    stream_bytes, streams = d.get("stream_bytes", 0), d.get("stream_transfers", 0)
    fill_bytes = d["dma_bytes_total"] - d["dma_bytes"] - stream_bytes
    fill_transfers = d["dma_transfers_total"] - d["dma_transfers"] - streams
    fills = "zeros() fill" if not d.get("tensor_ops") else "fill and tensor-op"
    spread = f"{min(active):.1f}%"
    if f"{max(active):.1f}%" != spread:
        spread += f" to {max(active):.1f}%"
    columns = _columns(d)
    lines = [
        f"{d['kernel']} ({d['kernel_function']}): {_inputs(d)}, {d['cores']} "
        f"core{'s' if d['cores'] != 1 else ''}{buf}, preset {cfg['preset']}{_overrides(cfg)}, "
        f"seed {d['seed']}",
        "  correct          " + _check(d),
        f"  simulated time   {_ns(d['simulated_ns'])} ({d['cycles']:,} cycles at "
        f"{clock / 1e9:.2f} GHz)" + _band(d),
        textwrap.fill(d["limiter"]["message"], 100, initial_indent="  limited by       ",
                      subsequent_indent=" " * 19),
        f"  roofline bound   {_ns(d['bound_ns'])}, {_bound_reason(d)}; simulated/bound "
        + (f"{ratio:.1f}x" if ratio else "n/a"),
        f"  fixed-cost floor {_ns(d['fixed_cost_floor_ns'])} (DMA fixed costs and loop calls "
        "one core pays one after another)",
        f"  engine active    {spread} per GPSIMD core (executing its own instructions: compute, "
        "stream accesses from TCM, tensor ops; not stalled on device memory or DMA)",
        f"  DMA              {d['dma_transfers']} tensor_to_tcm/tcm_to_tensor transfers "
        f"({_bytes(d['dma_bytes'])})"
        + (f" + {streams} stream refills/flushes ({_bytes(stream_bytes)})" if streams else "")
        + (f" + {fill_transfers} {fills} transfers ({_bytes(fill_bytes)})"
           if fill_transfers else ""),
        f"  DMA size         average {_bytes(d['average_dma_bytes'])} per transfer; "
        f"{d['dma_efficiency_pct']:.1f}% of DMA time moves data, the rest is fixed cost and "
        "queue waits",
        f"  DMA throughput   {d['dma_throughput_bytes_per_ns']:.2f} GB/s = "
        f"{d['dma_bandwidth_utilisation_pct']:.1f}% of the "
        f"{d['dma_bandwidth_limit_bytes_per_ns']:.1f} GB/s these cores can draw; "
        f"{d['hbm_bandwidth_utilisation_pct']:.1f}% of device memory's {hbm:g} GB/s",
        f"  element accesses {d['element_accesses']:,}",
        f"  TCM peak         {d['tcm_peak_bytes']} B of a {pool} B pool per core"
        + (f"; {d['tcm_malloc_failures']} tcm_malloc failed" if d["tcm_malloc_failures"] else ""),
        "  per core        busy% active%  " + " ".join(f"{label:>10}" for _, label in columns),
    ]
    lines += [_per_core_row(c, columns) for c in d["per_core"]]
    if d.get("printed"):
        lines.append("  printed by the kernel (printf):")
        lines += ["    " + line for line in d["printed"].rstrip("\n").split("\n")]
    if d.get("caveat"):
        lines.insert(1, f"  caveat           {d['caveat']}")
    lines.append(f"  ({d['sim_events']} simulation events, {d['wall_s']:.2f} s wall)")
    return "\n".join(lines)
