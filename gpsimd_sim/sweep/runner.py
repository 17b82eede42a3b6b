"""Run a sweep: skip finished points, fan the rest out, save as they finish, then plot."""
from __future__ import annotations

import fcntl
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..config.presets import config_to_dict, load_config
from ..errors import ConfigError
from ..timing.kinds import CATEGORIES
from .executors import default_jobs, execute, order_points
from .grid import SWEEP_SCHEMA_VERSION, SweepSpec
from .plots import BackgroundPlots
from .store import ResultStore


@dataclass
class SweepOutcome:
    """What a sweep did: its rows (grid order), how many ran now or were kept, its files."""
    spec: SweepSpec
    rows: list[dict]
    ran: int
    kept: int
    wall_s: float
    executor: str
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Points that did not finish, or whose output was wrong."""
        return sum(map(_failed, self.rows))

    def to_dict(self) -> dict:
        """The sweep as one JSON document (``sweep --json``)."""
        return {"schema_version": SWEEP_SCHEMA_VERSION, "sweep": self.spec.settings(),
                "points": len(self.rows), "ran": self.ran, "kept": self.kept,
                "failed": self.failed, "executor": self.executor,
                "files": [str(f) for f in self.files], "rows": self.rows}


def _failed(row: dict) -> bool:
    return row["status"] != "ok" or row.get("correct") is False


def _progress(total: int, initial: int, enabled: bool | None):
    from tqdm import tqdm
    # A bar only on a terminal: in logs, CI and pipes it would be noise.
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, disable=not enabled, unit="point",
                file=sys.stderr, dynamic_ncols=True, leave=False)


def run_sweep(spec: SweepSpec, out: str | Path, jobs: int | None = None,
              dask: str | None = None, progress: bool | None = None,
              plots: bool = True) -> SweepOutcome:
    """Run every point of ``spec`` not already in ``out``; rows are saved as points finish,
    so an interrupted sweep run again resumes where it stopped."""
    start = time.perf_counter()
    config, provenance = load_config(spec.preset, list(spec.overrides))
    with sweep_lock(Path(out)):
        store = ResultStore(out, spec, config_to_dict(config, provenance))
        points = spec.points()
        todo = order_points([p for p in points if p.key not in store],
                            config.tcm.tcm_pool_bytes)
        executor = f"dask {dask}" if dask else \
            f"{default_jobs() if jobs is None else jobs} local jobs"
        drawing = BackgroundPlots(spec, store.out) if plots else None
        rows = execute(spec, todo, jobs, dask)
        bar = _progress(len(points), len(points) - len(todo), progress)
        ran = 0
        try:
            for row in rows:
                store.add(row)
                ran += 1
                bar.update(1)
        except BaseException:
            if drawing:
                drawing.cancel()
            raise
        finally:
            rows.close()          # stops the workers if we leave early (Ctrl-C)
            bar.close()
            store.save()          # always: the files are rebuilt from the stored rows
        ordered = store.ordered_rows()
        files = [store.json_path, store.csv_path]
        if drawing:
            files += drawing.finish(ordered)
        return SweepOutcome(spec, ordered, ran, len(points) - len(todo),
                            time.perf_counter() - start, executor, files)


@contextmanager
def sweep_lock(out: Path):
    """One sweep per output folder at a time: a second one says so instead of racing."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise ConfigError(f"--out {out}: another sweep (pid {holder}) is writing there; "
                              "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)   # closing releases the lock


def _us(ns) -> str:
    return f"{ns / 1e3:.1f} µs" if ns is not None else "-"


def format_outcome(o: SweepOutcome) -> str:
    """A few lines for the terminal: what ran, the table, the best point, the files."""
    spec, rows = o.spec, o.rows
    malloc = sum(bool(r["tcm_malloc_failed"]) for r in rows)
    lines = [f"sweep of {spec.kernel}" + (" in the MLP" if spec.mlp else
                                          f" on {'x'.join(map(str, spec.shape))}")
             + f", preset {spec.preset}: {len(rows)} points ({o.ran} run now, {o.kept} kept "
             f"from before), {o.failed} failed (did not finish, or wrong output), {malloc} "
             f"with tcm_malloc failures; "
             f"{o.wall_s:.1f} s on {o.executor}"]
    if not spec.sweep_sets and len(spec.buffer_sizes) * len(spec.cores) > 1:
        lines.append(_table(spec, rows))
    good = [r for r in rows if r["status"] == "ok" and r["correct"]]
    if good:
        key = (lambda r: -r["iter_per_s"]) if spec.mlp else (lambda r: r["simulated_ns"])
        b = min(good, key=key)
        sets = "".join(f", {n}={b[n]}" for n in spec.set_names)
        speed = f"{b['iter_per_s']:.1f} iter/s, " if spec.mlp else ""
        buffer = f"buffer_size {b['buffer_size']}" if b["buffer_size"] is not None else "no buffer"
        lines.append(f"best: {buffer}, {b['cores']} core{'s' * (b['cores'] > 1)}{sets}: {speed}"
                     f"{_us(b['simulated_ns'])} on GPSIMD (bound {_us(b['bound_ns'])}, "
                     f"{b['bound_resource'].replace('_', ' ')}); limited by "
                     f"{CATEGORIES.get(b['limiter'], b['limiter'])}")
    bad = [r for r in rows if _failed(r)]
    for r in bad[:3]:
        why = r["error"] if r["status"] != "ok" else "wrong output (max |error| " \
            f"{r.get('max_abs_error')})"
        lines.append(f"failed: {r['point']}: {why}")
    if len(bad) > 3:
        lines.append(f"... and {len(bad) - 3} more failed points (results.csv has them all)")
    lines.append("wrote " + ", ".join(str(f) for f in o.files))
    return "\n".join(lines)


def _table(spec: SweepSpec, rows: list[dict]) -> str:
    """Simulated time (or iter/s) per core count (rows) and buffer size (columns)."""
    cell = {(r["buffer_size"], r["cores"]): r for r in rows}
    head = "iter/s" if spec.mlp else "time (µs)"
    out = [f"  {head + ' cores':>16} " + " ".join(f"{str(b):>9}" for b in spec.buffer_sizes)]
    for c in spec.cores:
        vals = []
        for b in spec.buffer_sizes:
            r = cell.get((b, c))
            if r is None:
                vals.append("")
            elif r["status"] != "ok":
                vals.append("failed")
            elif r["tcm_malloc_failed"]:
                vals.append("no TCM")
            elif not r["correct"]:
                vals.append("wrong")
            else:
                vals.append(f"{r['iter_per_s']:.1f}" if spec.mlp else f"{r['simulated_ns'] / 1e3:.1f}")
        out.append(f"  {c:>16} " + " ".join(f"{v:>9}" for v in vals))
    return "\n".join(out)
