"""Chrome trace-event JSON of a simulated run, for ui.perfetto.dev and chrome://tracing.

Layout (one process per group of tracks, sorted as listed):

- "model iteration" (MLP traces only): host step, Tensor-engine matmuls, custom-op launches,
  the custom operator as a whole, the Vector engine; one iteration laid out in sequence.
- "GPSIMD cores": one track per core. Compute-loop calls, runs of element-wise accesses,
  and each DMA transfer the core blocks on, split into its fixed cost, the wait for a free
  queue and the data movement (``zeros()`` fills likewise, named as fills); ``tcm_malloc``
  and ``tcm_free`` as instant events; a TCM-in-use counter per core.
- "DMA queues": one track per queue that carried a transfer (bytes, tensor, offsets, core);
  the device-memory bandwidth all transfers draw, as a counter.

``ts`` and ``dur`` are microseconds of simulated time (fractional); ``args`` keep the
nanoseconds where they matter. Slices on one track never overlap, so the busy time of a
core track is exactly its compute + element + DMA time of the JSON result.
"""
from __future__ import annotations

from itertools import groupby

from ..records import Alloc, Compute, Dma, ElementRun, Free
from ..timing import costs
from .output import to_json, write_atomic

PID_MODEL, PID_CORES, PID_DMA = 1, 2, 3
OPS = {"to_tcm": "tensor_to_tcm", "to_tensor": "tcm_to_tensor", "fill": "zeros() fill"}
MODEL_TRACKS = {  # component kind -> (tid, track name)
    "host": (1, "host step"),
    "matmul": (2, "Tensor engine: matmuls"),
    "launch": (3, "custom-op launch"),
    "custom_op": (4, "GPSIMD: custom operator"),
    "vector": (5, "Vector engine"),
}


def _us(ns: float) -> float:
    return ns / 1000.0


class TraceBuilder:
    """Collects trace events; names and orders processes and threads with metadata events."""

    def __init__(self):
        self.meta: list[dict] = []
        self.events: list[dict] = []
        self._named: set = set()

    def process(self, pid: int, name: str) -> None:
        if ("p", pid) not in self._named:
            self._named.add(("p", pid))
            self.meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                              "args": {"name": name}})
            self.meta.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                              "args": {"sort_index": pid}})

    def thread(self, pid: int, tid: int, name: str) -> None:
        if ("t", pid, tid) not in self._named:
            self._named.add(("t", pid, tid))
            self.meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                              "args": {"name": name}})
            self.meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                              "args": {"sort_index": tid}})

    def slice(self, pid, tid, name, cat, start_ns, end_ns, args) -> None:
        if end_ns > start_ns:  # a zero-length slice says nothing and clutters the view
            ts = _us(start_ns)
            self.events.append({"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": tid,
                                "ts": ts, "dur": _us(end_ns) - ts, "args": args})

    def instant(self, pid, tid, name, cat, t_ns, args) -> None:
        self.events.append({"ph": "i", "s": "t", "name": name, "cat": cat, "pid": pid,
                            "tid": tid, "ts": _us(t_ns), "args": args})

    def counter(self, pid, name, t_ns, values: dict) -> None:
        self.events.append({"ph": "C", "name": name, "pid": pid, "tid": 0, "ts": _us(t_ns),
                            "args": values})

    def to_dict(self, other: dict) -> dict:
        # stable order: time, then counters before slices so a counter's step shows at once
        events = sorted(self.events, key=lambda e: (e["ts"], e["ph"] != "C"))
        return {"traceEvents": self.meta + events, "displayTimeUnit": "ns",
                "otherData": other}


def _dma_phases(span, queue_span, config):
    """(fixed, wait, transfer) intervals of one DMA on its core, from the engine's spans."""
    fixed = config.dma.dma_fixed_ns
    start, end = span.start_ns, span.end_ns
    if config.dma.dma_fixed_holds_queue:
        got = queue_span.start_ns if queue_span else end
        return (got, got + fixed), (start, got), (got + fixed, end)
    moving = queue_span.start_ns if queue_span else end
    return (start, start + fixed), (start + fixed, moving), (moving, end)


def _record_spans(record, spans, i, config) -> int:
    """How many of a core's spans, from index ``i``, the engine made for ``record``."""
    kind = type(record)
    if kind is Compute:
        return 1 if costs.compute_ns(record, config) > 0 else 0
    if kind is ElementRun:
        return 1 if costs.element_ns(record.reads, record.writes, config) > 0 else 0
    wanted = record.direction if kind is Dma else "fill"
    limit = 1 if kind is Dma else len(costs.fill_chunks(record.nbytes, config))
    n = 0  # zero-time transfers leave no span, so match on kind and line
    while (n < limit and i + n < len(spans) and spans[i + n].kind == wanted
           and spans[i + n].args.get("line") == record.line):
        n += 1
    return n


def _alloc_times(trace, spans, config):
    """(time, record) of each tcm_malloc / tcm_free, by replaying the core's record order."""
    out, i, now = [], 0, 0.0
    for rec in trace.records:
        if type(rec) is Alloc or type(rec) is Free:
            out.append((now, rec))
            continue
        n = _record_spans(rec, spans, i, config)
        if n:
            now = spans[i + n - 1].end_ns
            i += n
    return out


def add_kernel_run(b: TraceBuilder, result, offset_ns: float = 0.0, call: str | None = None
                   ) -> None:
    """The cores, DMA queues and counters of one ``RunResult`` (timeline recorded), shifted
    by ``offset_ns``; ``call`` names the custom-op call in an MLP trace."""
    timing, config = result.timing, result.config
    tag = {"call": call} if call else {}
    b.process(PID_CORES, "GPSIMD cores")
    by_track: dict[str, list] = {}
    for s in timing.spans:
        by_track.setdefault(s.track, []).append(s)
    queue_spans = {(s.args["core"], int(s.track.rsplit(" ", 1)[1]), s.end_ns): s
                   for s in timing.spans if s.track.startswith("dma queue")}
    for trace in result.functional.traces:
        core = trace.core
        b.thread(PID_CORES, core, f"core {core}")
        spans = by_track.get(f"core {core}", [])
        for s in spans:
            start, end = s.start_ns + offset_ns, s.end_ns + offset_ns
            if s.kind == "compute":
                b.slice(PID_CORES, core, f"compute {s.args['loop']}", "compute", start, end,
                        {**s.args, "ns": s.end_ns - s.start_ns, **tag})
            elif s.kind == "element accesses":
                b.slice(PID_CORES, core, "element accesses", "element", start, end,
                        {**s.args, "ns": s.end_ns - s.start_ns, **tag})
            else:
                op = OPS.get(s.kind, s.kind)
                q = queue_spans.get((core, s.args["queue"], s.end_ns))
                fixed, wait, move = _dma_phases(s, q, config)
                cat = "fill" if s.kind == "fill" else "dma"
                args = {"op": op, **s.args, **tag}
                b.slice(PID_CORES, core, f"{op}: DMA fixed cost", f"{cat}.fixed",
                        fixed[0] + offset_ns, fixed[1] + offset_ns, args)
                b.slice(PID_CORES, core, f"{op}: wait for a DMA queue", f"{cat}.wait",
                        wait[0] + offset_ns, wait[1] + offset_ns, args)
                b.slice(PID_CORES, core, op, f"{cat}.transfer", move[0] + offset_ns,
                        move[1] + offset_ns, {**args, "ns": move[1] - move[0]})
        for t, rec in _alloc_times(trace, spans, config):
            if type(rec) is Alloc:
                name = f"tcm_malloc {rec.nbytes} B" + ("" if rec.ok else " FAILED")
            else:
                name = f"tcm_free {rec.nbytes} B" if rec.nbytes else "tcm_free(null)"
            b.instant(PID_CORES, core, name, "tcm", t + offset_ns,
                      {"buffer": rec.buffer, "bytes": rec.nbytes, "line": rec.line, **tag,
                       **({"ok": rec.ok} if type(rec) is Alloc else {})})
        tcm_name = f"TCM in use, core {core} (bytes)"
        b.counter(PID_CORES, tcm_name, offset_ns, {"bytes": 0})
        for name, t, value in timing.counters:
            if name == f"tcm core {core}":
                b.counter(PID_CORES, tcm_name, t + offset_ns, {"bytes": value})
    b.process(PID_DMA, "DMA queues")
    for (core, queue, _), s in sorted(queue_spans.items(), key=lambda kv: kv[1].start_ns):
        b.thread(PID_DMA, queue, f"DMA queue {queue}")
        op = OPS.get(s.kind, s.kind)
        b.slice(PID_DMA, queue, f"{op} core {core}", "fill" if s.kind == "fill" else "dma",
                s.start_ns + offset_ns, s.end_ns + offset_ns, {"op": op, **s.args, **tag})
    _bandwidth_counter(b, timing.counters, offset_ns, timing.simulated_ns)


BANDWIDTH = "device-memory bandwidth (GB/s)"


def _bandwidth_counter(b: TraceBuilder, counters, offset_ns: float, end_ns: float) -> None:
    """Device-memory bandwidth in use, as the engine re-rated it at each change (B/ns = GB/s)."""
    b.counter(PID_DMA, BANDWIDTH, offset_ns, {"GB/s": 0.0})
    changes = [(t, v) for name, t, v in counters if name == "hbm_bytes_per_ns"]
    for t, group in groupby(changes, key=lambda c: c[0]):
        level = list(group)[-1][1]  # several changes at one instant: the last one holds
        b.counter(PID_DMA, BANDWIDTH, t + offset_ns, {"GB/s": level})
    b.counter(PID_DMA, BANDWIDTH, end_ns + offset_ns, {"GB/s": 0.0})


def run_trace(result) -> dict:
    """The trace of one kernel run (``RunResult`` simulated with ``timeline=True``)."""
    b = TraceBuilder()
    add_kernel_run(b, result)
    o = result.options
    return b.to_dict({"tool": "gpsimd_sim", "kernel": result.kernel.path,
                      "shape": list(o.shape), "dtype": o.dtype, "cores": result.cores,
                      "preset": result.config.name, "simulated_ns": result.simulated_ns,
                      "time_unit": "ts and dur are microseconds of simulated time"})


def model_trace(result) -> dict:
    """One iteration of a whole-model run (``ModelResult``): every component in sequence,
    each custom-op call's GPSIMD cores and DMA queues at its place in the iteration."""
    b = TraceBuilder()
    b.process(PID_MODEL, f"model iteration (batch {result.protocol.batch})")
    step = result.steps[result.protocol.batch]
    runs = iter(step.kernel_runs)
    now = 0.0
    for c in step.components:
        tid, track = MODEL_TRACKS.get(c.kind, (len(MODEL_TRACKS) + 1, c.kind))
        b.thread(PID_MODEL, tid, track)
        args = {k: v for k, v in c.detail.items() if k != "ns"}
        b.slice(PID_MODEL, tid, c.name, c.kind, now, now + c.ns, {"ns": c.ns, **args})
        if c.kind == "custom_op":
            add_kernel_run(b, next(runs), offset_ns=now, call=c.name)
        elif c.detail.get("bytes") and c.ns > 0:  # a device op's weight and activation reads
            b.process(PID_DMA, "DMA queues")
            b.counter(PID_DMA, BANDWIDTH, now, {"GB/s": c.detail["bytes"] / c.ns})
            b.counter(PID_DMA, BANDWIDTH, now + c.ns, {"GB/s": 0.0})
        now += c.ns
    return b.to_dict({"tool": "gpsimd_sim", "model": result.model.name,
                      "kernel": result.kernel.path, "batch": result.protocol.batch,
                      "preset": result.config.name, "iteration_ns": step.ns,
                      "time_unit": "ts and dur are microseconds of simulated time"})


def write_trace(path, trace: dict) -> None:
    """Write a trace atomically (compact JSON: traces get large)."""
    write_atomic(path, to_json(trace, indent=None))
