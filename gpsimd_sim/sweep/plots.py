"""PNG plots of a sweep (matplotlib, Agg backend: no display needed).

* time (kernel) or iterations/s (MLP) against buffer size, one line per core count;
* speed-up against cores, one line per buffer size, with the ideal line and the roofline
  limit (the speed-up no schedule could beat: time on the fewest cores over the bound).

One panel per combination of the ``--sweep-set`` values. Points that failed or whose output
was wrong (a tcm_malloc failure leaves the output unwritten) are left out and counted in the
panel title, since their times describe a kernel that did no work.
"""
from __future__ import annotations

import io
import itertools
import math
import multiprocessing
import os
import threading
from pathlib import Path

from ..errors import SimError
from ..report.output import write_atomic
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
    out = []
    for combo in itertools.product(*[values for _, values in spec.sweep_sets]):
        sel = [r for r in rows if all(_same(r.get(n), v) for n, v in zip(names, combo))]
        out.append((", ".join(f"{n}={v}" for n, v in zip(names, combo)), sel))
    return out


def _number(x):
    """A swept value as a number: 13.6, "13.6", True and "true" alike."""
    if isinstance(x, str) and x.strip().lower() in ("true", "yes", "false", "no"):
        return float(x.strip().lower() in ("true", "yes"))
    return float(x)


def _same(a, b) -> bool:
    try:
        return math.isclose(_number(a), _number(b), rel_tol=1e-9)
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
    # fixed margins in inches (tight_layout would cost 40% of the drawing time)
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=0.9 / w, right=1 - 0.15 / w, bottom=0.6 / h, top=1 - 1.0 / h,
                        wspace=0.3, hspace=0.5)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return plt, fig, list(axes.flat[:n])


def _no_ticks():
    from matplotlib.ticker import NullLocator
    return NullLocator()


def _left_out(rows: list[dict]) -> str:
    failed = sum(r["status"] != "ok" for r in rows)
    no_tcm = sorted({r["buffer_size"] for r in rows
                     if r["status"] == "ok" and r["tcm_malloc_failed"]})
    wrong = sum(r["status"] == "ok" and not r["tcm_malloc_failed"] and not r["correct"]
                for r in rows)
    parts = []
    if no_tcm:
        parts.append(f"buffer {', '.join(map(str, no_tcm))} (tcm_malloc failed)")
    parts += [f"{n} {what} points" for n, what in ((failed, "failed"), (wrong, "incorrect")) if n]
    return f"not plotted: {'; '.join(parts)}" if parts else ""


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
        # ticks only where a point was drawn: a buffer whose every point failed gets none
        sizes = sorted({r["buffer_size"] for r in sel if _usable(r)
                        and r["buffer_size"] is not None})
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.xaxis.set_minor_locator(_no_ticks())
        ax.set_xlabel("buffer size (elements)")
        ax.set_ylabel("iterations/s" if spec.mlp else "simulated time (µs)")
        if not spec.mlp:
            ax.set_yscale("log")
        ax.set_title("\n".join(t for t in (label, _left_out(sel)) if t), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    _save(plt, fig, path)
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
        top = 1.0
        for i, (b, pts) in enumerate(by_buffer.items()):
            # each buffer size has its own ideal and roofline: same colour, other line style
            color = f"C{i % 10}"
            first = pts[base]
            t0, other = _time(first), _time(first) - first["simulated_ns"]
            xs = sorted(pts)
            speed = [t0 / _time(pts[c]) for c in xs]
            ideal = [t0 / (other + first["simulated_ns"] * base / c) for c in xs]
            bound = [t0 / (other + pts[c]["bound_ns"]) for c in xs]
            same = max(abs(s - i) / i for s, i in zip(speed, ideal)) < 0.01
            name = f"buffer {b}" if b is not None else "simulated"
            ax.plot(xs, speed, marker="o", color=color, zorder=3,
                    label=name + (" (on its ideal line)" if same else ""))
            ax.plot(xs, ideal, "--", color=color, linewidth=1, zorder=2)
            ax.plot(xs, bound, ":", color=color, linewidth=1.5, zorder=1)
            top = max(top, max(speed), max(ideal))
        if by_buffer:
            # axes sized to the simulated and ideal lines: a roofline far above is cut off
            ax.set_ylim(0.95, top * 1.08)
            from matplotlib.lines import Line2D
            styles = [Line2D([], [], color="grey", marker="o", label="simulated"),
                      Line2D([], [], color="grey", linestyle="--", linewidth=1,
                             label="ideal" + (" (Amdahl: only the custom op scales)"
                                              if spec.mlp else " (linear)")),
                      Line2D([], [], color="grey", linestyle=":", linewidth=1.5,
                             label="roofline limit (may lie above the chart)")]
            first_legend = ax.legend(handles=styles, fontsize=7, loc="upper left")
            ax.add_artist(first_legend)
            ax.legend(handles=[ln for ln in ax.lines if ln.get_marker() == "o"], fontsize=7,
                      loc="lower right")
        ax.set_xlabel("GPSIMD cores")
        ax.set_ylabel(f"speed-up over {base} core{'s' * (base > 1)}"
                      + (" (time per iteration)" if spec.mlp else ""))
        ax.set_xticks(list(spec.cores))
        ax.set_title("\n".join(t for t in (label, _left_out(sel)) if t), fontsize=9)
        ax.grid(True, alpha=0.3)
    _save(plt, fig, path)
    return path


def _save(plt, fig, path: Path) -> None:
    """Atomically, like the tables (``write_atomic``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_atomic(path, buf.getvalue())


def _plan(spec: SweepSpec) -> list[tuple]:
    """The plots the grid supports (each needs two values on its x axis)."""
    plan = []
    if len(spec.buffer_sizes) >= 2 and spec.buffer_sizes[0] is not None:
        plan.append((plot_vs_buffer,
                     "iter_per_s_vs_buffer.png" if spec.mlp else "time_vs_buffer.png"))
    if len(spec.cores) >= 2:
        plan.append((plot_speedup, "speedup_vs_cores.png"))
    return plan


def make_plots(spec: SweepSpec, rows: list[dict], out: Path) -> list[Path]:
    """Draw every plot the grid supports, here and now."""
    made = [fn(spec, rows, Path(out) / name) for fn, name in _plan(spec)]
    return [p for p in made if p is not None]


def _child(conn, spec: SweepSpec, out: Path) -> None:
    from ..isolation import become_child
    become_child()   # Ctrl-C is the parent's; gone with it; ends at once on SIGTERM
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # The slow parts, done while the points run: the import, and the first drawing (fonts,
    # the Agg renderer), which a throwaway figure pays for.
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2], label="x")
    ax.legend()
    fig.canvas.draw()
    plt.close(fig)
    rows = conn.recv()
    if rows is None:
        return
    # Each plot but the first in a fork of this warm process: the drawing is the only part
    # of plotting left after the last point, so it runs in parallel too.
    plan, others = _plan(spec), []
    for fn, name in plan[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                fn(spec, rows, Path(out) / name)
                code = 0
            except BaseException:  # noqa: BLE001 - the exit status reports it
                code = 1
            os._exit(code)
        others.append((pid, name))
    try:
        made = [p for p in (fn(spec, rows, Path(out) / name) for fn, name in plan[:1]) if p]
        for pid, name in others:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                raise RuntimeError(f"drawing {name} failed")
            made.append(Path(out) / name)
        conn.send(("ok", [str(p) for p in made]))
    except Exception as exc:  # noqa: BLE001 - reported by the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


class BackgroundPlots:
    """Plots drawn by a process forked when the sweep starts.

    Importing matplotlib and drawing take about a fifth of a small sweep's time; done after
    the points, all of it would be serial. Forked early, the plotting process imports
    matplotlib while the parent warms up on its first point (when the other core is idle)
    and draws as soon as the rows arrive. One process, not one per plot: a second import
    would take CPU from the points. Without fork, or when this process runs threads (forking
    them is unsafe), the plots are drawn here at the end instead.
    """

    def __init__(self, spec: SweepSpec, out: Path):
        self.spec, self.out = spec, Path(out)
        self.child = None
        if not _plan(spec) or "fork" not in multiprocessing.get_all_start_methods() or \
                threading.active_count() > 1:
            return
        ctx = multiprocessing.get_context("fork")
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(theirs, spec, self.out), daemon=True)
        proc.start()
        theirs.close()
        self.child = (proc, mine)

    def finish(self, rows: list[dict]) -> list[Path]:
        """Hand the rows over and wait for the PNGs."""
        if self.child is None:
            return make_plots(self.spec, rows, self.out)
        proc, conn = self.child
        self.child = None
        conn.send(rows)
        try:
            status, value = conn.recv()
        except EOFError:
            status, value = "error", f"the plotting process died (exit code {proc.exitcode})"
        proc.join()
        if status != "ok":
            raise SimError(f"plotting failed (the results are saved in {self.out}): {value}")
        return [Path(p) for p in value]

    def cancel(self) -> None:
        if self.child is None:
            return
        proc, conn = self.child
        self.child = None
        try:
            conn.send(None)
        except OSError:
            pass
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
