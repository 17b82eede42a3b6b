"""Where points run: in this process, in forked local processes, or on a Dask cluster.

Each executor is a generator of finished rows, in the order they finish; stopping the
generator early (an interrupt, an error while saving) stops the workers.
"""
from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
from typing import Iterator

from ..errors import ConfigError
from ..isolation import become_child, signal_name
from .grid import Point, SweepSpec
from .point import failed_row, run_point


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_serial(spec: SweepSpec, points: list[Point]) -> Iterator[dict]:
    for point in points:
        yield run_point(spec, point)


def _run_group(spec: SweepSpec, points: list[Point]) -> list[dict]:
    return [run_point(spec, p) for p in points]


def groups(points: list[Point]) -> list[list[Point]]:
    """Points that differ only in swept preset parameters, together: they share the
    functional stage (what the kernel did does not depend on timing parameters), which the
    simulator reuses within one process."""
    by_run: dict[tuple, list[Point]] = {}
    for p in points:
        by_run.setdefault((p.buffer_size, p.cores), []).append(p)
    return list(by_run.values())


def run_local(spec: SweepSpec, points: list[Point], jobs: int) -> Iterator[dict]:
    """Points on ``jobs`` forked processes of one persistent pool.

    The first point runs here, before the fork, so the kernel is imported and its loops
    compiled (or loaded from numba's cache) once and every worker inherits them warm: a
    point then costs only its own simulation, not imports or JIT. (``order_points`` puts a
    cheap point first.)
    """
    if not points:
        return
    yield run_point(spec, points[0])
    rest = points[1:]
    if not rest:
        return
    if jobs <= 1:
        yield from run_serial(spec, rest)
        return
    work = groups(rest)
    # Move everything alive now out of the collector's reach: a forked worker then never
    # writes to the pages it shares with this process just to update GC bookkeeping.
    gc.freeze()
    yield from _pool_rows(spec, work, min(jobs, len(work)))


def _pool_rows(spec: SweepSpec, work: list[list[Point]], jobs: int) -> Iterator[dict]:
    """Groups of points on ``jobs`` forked workers, rows as they finish.

    Each worker runs one group at a time, so a worker that dies (killed, out of memory)
    fails exactly the points it was running, each with that reason, and is replaced.
    Leaving early (Ctrl-C, SIGTERM, an error while saving) kills the workers at once.
    """
    ctx = multiprocessing.get_context("fork")
    pending = list(reversed(work))
    workers: dict = {}       # connection -> (process, group it runs or None)

    def start():
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_serve_groups, args=(theirs, spec), daemon=True)
        proc.start()
        theirs.close()
        workers[mine] = (proc, None)
        return mine

    def assign(conn):
        proc, _ = workers[conn]
        if pending:
            group = pending.pop()
            conn.send(group)
            workers[conn] = (proc, group)
        else:
            conn.send(None)
            workers.pop(conn)
            proc.join()

    try:
        for _ in range(min(jobs, len(pending))):
            assign(start())
        while workers:
            for conn in multiprocessing.connection.wait(list(workers)):
                proc, group = workers[conn]
                try:
                    rows = conn.recv()
                except (EOFError, OSError):
                    proc.join()
                    why = (f"killed by {signal_name(-proc.exitcode)}" if proc.exitcode
                           and proc.exitcode < 0 else f"exit status {proc.exitcode}")
                    workers.pop(conn)
                    yield from (failed_row(spec, p, f"the sweep's worker process died while "
                                           f"running this point ({why})", retry=True)
                                for p in group or [])
                    if pending:
                        assign(start())
                    continue
                yield from rows
                assign(conn)
    finally:
        for proc, _ in workers.values():
            if proc.is_alive():
                proc.kill()
            proc.join()


def _serve_groups(conn, spec: SweepSpec) -> None:
    # Ctrl-C reaches the whole process group; only the parent handles it (it saves the
    # finished rows and stops the workers), so workers do not print tracebacks of their own;
    # and a worker dies with the sweep, whatever killed it (no orphans after SIGKILL).
    become_child()
    while True:
        group = conn.recv()
        if group is None:
            return
        conn.send(_run_group(spec, group))


def order_points(points: list[Point], tcm_pool_bytes: int) -> list[Point]:
    """A cheap point first (to warm up on before the fan-out), then the costly ones first.

    Cost falls with the buffer size (fewer transfers to simulate), so the warm-up point is
    the largest buffer that still fits the TCM pool as float32 (one that does not fit never
    runs the compiled loop, so it would not warm it up); the rest run smallest buffer first,
    so that the longest points do not end up alone at the tail of the sweep.
    """
    if len(points) < 2:
        return list(points)
    sized = [p for p in points if p.buffer_size is not None]
    fitting = [p for p in sized if p.buffer_size * 4 <= tcm_pool_bytes]
    first = max(fitting or points, key=lambda p: (p.buffer_size or 0, p.cores))
    rest = sorted((p for p in points if p is not first),
                  key=lambda p: p.buffer_size if p.buffer_size is not None else 0)
    return [first] + rest


def _warm(spec: SweepSpec) -> None:
    """Import and compile the kernel on a Dask worker before its points arrive."""
    from ..frontend import load as load_kernel
    load_kernel(spec.kernel_file)


def run_dask(spec: SweepSpec, points: list[Point], address: str) -> Iterator[dict]:
    """Points as tasks on an existing Dask distributed cluster (``distributed.Client``).

    Workers must see the kernel (and model) files at the same paths as this process.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--dask needs Dask: pip install 'gpsimd_sim[dask]'") from None
    if not points:
        return
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"--dask {address}: cannot connect to a Dask scheduler "
                          f"({type(exc).__name__}: {exc})") from None
    futures = []
    try:
        client.run(_warm, spec)
        futures = client.map(run_point, [spec] * len(points), points, pure=False)
        for future in as_completed(futures):
            yield future.result()
    finally:
        if futures:
            client.cancel(futures)
        client.close()


def execute(spec: SweepSpec, points: list[Point], jobs: int | None = None,
            dask: str | None = None) -> Iterator[dict]:
    """Run ``points`` with the executor the options choose."""
    if dask:
        return run_dask(spec, points, dask)
    jobs = default_jobs() if jobs is None else jobs
    return run_local(spec, points, jobs) if jobs > 1 else run_serial(spec, points)
