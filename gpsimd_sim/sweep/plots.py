"""PNG plots of a sweep (matplotlib, Agg backend: no display needed).

* time (kernel) or iterations/s (MLP) against buffer size, one line per core count;
* speed-up against cores, one line per buffer size, with the ideal line and the roofline
  limit (the speed-up no schedule could beat: time on the fewest cores over the bound).

One panel per combination of the ``--sweep-set`` values. Points that failed or whose output
was wrong (a tcm_malloc failure leaves the output unwritten) are left out and counted in the
panel title, since their times describe a kernel that did no work.
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path

from .grid import SweepSpec


def _usable(row: dict) -> bool:
    return row["status"] == "ok" and bool(row["correct"])


def _time(row: dict) -> float:
    """What the speed-up divides: the kernel's time, or the MLP's time per iteration."""
    return row["iteration_ns"] if row["mode"] == "mlp" else row["simulated_ns"]


def _panels(spec: SweepSpec, rows: list[dict]) -> list[tuple[str, list[dict]]]:
    if not spec.sweep_sets:
        return [("", rows)]
    names = spec.set_names
    combos = itertools.product(*[values for _, values in spec.sweep_sets])
    out = []
    for combo in combos:
        want = {n: float(v) for n, v in zip(names, combo)}
        sel = [r for r in rows if all(_close(r.get(n), want[n]) for n in names)]
        out.append((", ".join(f"{n}={v}" for n, v in zip(names, combo)), sel))
    return out


def _close(a, b) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    except (TypeError, ValueError):
        return False


def _figure(n: int, title: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.6 * rows), squeeze=False)
    fig.suptitle(title)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return plt, fig, list(axes.flat[:n])


def _left_out(rows: list[dict]) -> str:
    failed = sum(r["status"] != "ok" for r in rows)
    malloc = sum(r["status"] == "ok" and bool(r["tcm_malloc_failed"]) for r in rows)
    wrong = sum(r["status"] == "ok" and not r["tcm_malloc_failed"] and not r["correct"]
                for r in rows)
    parts = [f"{n} {what}" for n, what in ((malloc, "tcm_malloc failed"), (failed, "failed"),
                                           (wrong, "incorrect")) if n]
    return f"not plotted: {', '.join(parts)}" if parts else ""


def _title(spec: SweepSpec) -> str:
    what = f"MLP ({spec.model}) with {spec.kernel}" if spec.mlp else \
        f"{spec.kernel} on {'x'.join(map(str, spec.shape))}"
    return f"{what}, preset {spec.preset}"


def plot_vs_buffer(spec: SweepSpec, rows: list[dict], path: Path) -> Path | None:
    """Simulated time (or MLP iterations/s) against buffer size, one line per core count."""
    if len(spec.buffer_sizes) < 2 or spec.buffer_sizes[0] is None:
        return None
    panels = _panels(spec, rows)
    plt, fig, axes = _figure(len(panels), _title(spec))
    for ax, (label, sel) in zip(axes, panels):
        for cores in spec.cores:
            pts = sorted((r["buffer_size"], r) for r in sel if r["cores"] == cores and _usable(r))
            if not pts:
                continue
            ys = [r["iter_per_s"] if spec.mlp else r["simulated_ns"] / 1e3 for _, r in pts]
            ax.plot([b for b, _ in pts], ys, marker="o", label=f"{cores} core{'s' * (cores > 1)}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("buffer size (elements)")
        ax.set_ylabel("iterations/s" if spec.mlp else "simulated time (µs)")
        if not spec.mlp:
            ax.set_yscale("log")
        ax.set_title("\n".join(t for t in (label, _left_out(sel)) if t), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_speedup(spec: SweepSpec, rows: list[dict], path: Path) -> Path | None:
    """Speed-up over the fewest cores, one line per buffer size, with ideal and bound."""
    if len(spec.cores) < 2:
        return None
    base = spec.cores[0]
    panels = _panels(spec, rows)
    plt, fig, axes = _figure(len(panels), _title(spec))
    for ax, (label, sel) in zip(axes, panels):
        by_buffer = {}
        for b in spec.buffer_sizes:
            pts = {r["cores"]: r for r in sel if r["buffer_size"] == b and _usable(r)}
            if base in pts and len(pts) > 1:
                by_buffer[b] = pts
        for b, pts in by_buffer.items():
            t0 = _time(pts[base])
            xs = sorted(pts)
            ax.plot(xs, [t0 / _time(pts[c]) for c in xs], marker="o",
                    label=f"buffer {b}" if b is not None else "simulated")
        if by_buffer:
            # ideal and bound for the buffer size fastest on the most cores
            best = min(by_buffer, key=lambda b: _time(by_buffer[b][max(by_buffer[b])]))
            pts = by_buffer[best]
            first = pts[base]
            t0, other = _time(first), _time(first) - first["simulated_ns"]
            xs = sorted(pts)
            ideal = [t0 / (other + first["simulated_ns"] * base / c) for c in xs]
            bound = [t0 / (other + pts[c]["bound_ns"]) for c in xs]
            which = f" (buffer {best})" if best is not None else ""
            ax.plot(xs, ideal, "k--", label="ideal" + (" (Amdahl: only the custom op scales)"
                                                       if spec.mlp else ""))
            ax.plot(xs, bound, "r:", linewidth=2, label=f"roofline limit{which}")
        ax.set_xlabel("GPSIMD cores")
        ax.set_ylabel(f"speed-up over {base} core{'s' * (base > 1)}"
                      + (" (time per iteration)" if spec.mlp else ""))
        ax.set_xticks(list(spec.cores))
        ax.set_title("\n".join(t for t in (label, _left_out(sel)) if t), fontsize=9)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def make_plots(spec: SweepSpec, rows: list[dict], out: Path) -> list[Path]:
    """Write the plots that the grid supports (a plot needs two values on its x axis)."""
    first = "iter_per_s_vs_buffer.png" if spec.mlp else "time_vs_buffer.png"
    made = [plot_vs_buffer(spec, rows, out / first),
            plot_speedup(spec, rows, out / "speedup_vs_cores.png")]
    return [p for p in made if p is not None]
