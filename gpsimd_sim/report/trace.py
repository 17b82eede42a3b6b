"""Chrome trace-event JSON of a simulated run, for ui.perfetto.dev and chrome://tracing.

Layout (one process per group of tracks, sorted as listed):

- "model iteration" (MLP traces only): host step, Tensor-engine matmuls, custom-op launches,
  the custom operator as a whole, the Vector engine; one iteration laid out in sequence.
- "GPSIMD cores": one track per core. Compute-loop calls, runs of element-wise accesses,
  and each DMA transfer the core blocks on, split into its fixed cost, the wait for a free
  queue and the data movement (``zeros()`` fills likewise, named as fills); ``tcm_malloc``
  and ``tcm_free`` as instant events; a TCM-in-use counter per core.
- "DMA queues" ("DMA engines (one per core)" under a per_core preset such as trn2): one track
  per channel that carried a transfer (bytes, tensor, offsets, core); the device-memory
  bandwidth all transfers draw, as a counter.

``ts`` and ``dur`` are microseconds of simulated time (fractional); ``args`` keep the
nanoseconds where they matter. Slices on one track never overlap, so the busy time of a
core track is exactly the sum of its parts in the JSON result (compute, element, stream,
tensor_op, dma_fixed, dma_wait, dma_transfer, fill).
"""
from __future__ import annotations

from itertools import groupby

from ..timing.dma import dma_system_class
from .output import to_json, write_atomic

PID_MODEL, PID_CORES, PID_DMA = 1, 2, 3
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


def add_kernel_run(b: TraceBuilder, result, offset_ns: float = 0.0, call: str | None = None
                   ) -> None:
    """The cores, DMA channels and counters of one ``RunResult`` (timeline recorded),
    shifted by ``offset_ns``; ``call`` names the custom-op call in an MLP trace."""
    timing = result.timing
    tag = {"call": call} if call else {}
    b.process(PID_CORES, "GPSIMD cores")
    by_core: dict[int, list] = {}
    channel_spans = []
    for s in timing.spans:
        if s.track[0] == "core":
            by_core.setdefault(s.track[1], []).append(s)
        else:
            channel_spans.append(s)
    instants: dict[int, list] = {}
    for i in timing.instants:
        instants.setdefault(i.core, []).append(i)
    for trace in result.functional.traces:
        core = trace.core
        b.thread(PID_CORES, core, f"core {core}")
        for s in by_core.get(core, []):
            if "." in s.cat:  # a transfer's phase
                args = {**s.args, **tag}
            else:             # the core's own work: its length in ns
                args = {**s.args, "ns": s.end_ns - s.start_ns, **tag}
            b.slice(PID_CORES, core, s.name, s.cat, s.start_ns + offset_ns,
                    s.end_ns + offset_ns, args)
        for i in instants.get(core, []):
            b.instant(PID_CORES, core, i.name, "tcm", i.t_ns + offset_ns, {**i.args, **tag})
        tcm_name = f"TCM in use, core {core} (bytes)"
        b.counter(PID_CORES, tcm_name, offset_ns, {"bytes": 0})
        for name, t, value in timing.counters:
            if name == f"tcm core {core}":
                b.counter(PID_CORES, tcm_name, t + offset_ns, {"bytes": value})
    dma = dma_system_class(result.config)
    b.process(PID_DMA, dma.group_label)
    for s in sorted(channel_spans, key=lambda s: s.start_ns):
        channel = s.track[1]
        b.thread(PID_DMA, channel, f"{dma.channel_label} {channel}")
        b.slice(PID_DMA, channel, s.name, s.cat, s.start_ns + offset_ns,
                s.end_ns + offset_ns, {**s.args, **tag})
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
            b.process(PID_DMA, dma_system_class(result.config).group_label)
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
