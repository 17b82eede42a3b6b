"""A kernel run's simulated time under another configuration, without running it again.

The functional stage does not depend on timing parameters, so the records of a run can be
replayed on any other configuration (``simulate_timing(traces, config,
record_timeline=False)``): calibration, the sensitivity table and the ensemble behind the
error bands (gpsimd_sim/uncertainty) all do this, thousands of times. ``KernelTimer`` makes
it cheap:

- it replays a run's records at most once per *timing-relevant* configuration (the core,
  TCM, DMA and device-memory sections; the whole-model and host parameters cannot change a
  kernel's time), and remembers the result;
- the element-wise accessor's cost is left out of the replay (``element_access_ns`` = 0) and
  added in closed form, ``element_access_ns * (reads + element_write_fraction * writes)``.
  That is exact on one core: its records run one after another, element accesses contend
  with nothing, so they add to the end time (multicore kernels may not use the element
  accessor; if a run does anyway it is replayed whole). So changing the fitted
  ``element_access_ns`` costs no replay at all, and a posted write (a fraction below 1) is
  charged even where the timing stage charges every access alike.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from ..config.hardware import HardwareConfig
from ..records import (OP_CLASSES, Compute, Dma, ElementRun, Fill, StreamAccess,
                       StreamTransfer, TensorOp)
from ..timing import costs
from ..timing.dma import dma_system_class
from ..timing.engine import simulate_timing


class Profile:
    """What a core's records add up to, for any configuration under which nothing can
    contend (the closed form): then a core's time is a sum, and sums can be taken once.
    A member of the ensemble is then timed from a few dozen numbers, not every record."""

    __slots__ = ("compute", "stream", "transfers", "transfer_bytes", "fills", "usable")

    def __init__(self, records):
        self.compute: dict = {}      # (elem_bytes, vectorisable) -> [calls, op sums..., loads, stores]
        self.stream = [0, 0, 0]      # calls, reads, writes
        self.usable = True           # False: a kind the sums do not cover (replay instead)
        self.transfers = 0           # every transfer but the fills'
        self.transfer_bytes = 0
        self.fills: list[int] = []   # each fill's bytes (its chunks depend on the preset)
        for r in records:
            t = type(r)
            if t is Compute:
                acc = self.compute.setdefault((r.elem_bytes, r.vectorisable),
                                              [0] * (len(OP_CLASSES) + 3))
                acc[0] += 1
                ops = r.ops
                for k, name in enumerate(OP_CLASSES, 1):
                    acc[k] += ops.get(name, 0)
                acc[-2] += r.tcm_loads
                acc[-1] += r.tcm_stores
            elif t is Dma or t is StreamTransfer:
                self.transfers += 1
                self.transfer_bytes += r.nbytes
            elif t is StreamAccess:
                self.stream[0] += 1
                self.stream[1] += r.reads
                self.stream[2] += r.writes
            elif t is TensorOp:
                self.usable = False
            elif t is Fill:
                self.fills.append(r.nbytes)

    def closed_ns(self, config: HardwareConfig) -> float:
        """This core's time under ``config``, element accesses left out (they are added by
        ``model_element_ns``)."""
        c, ns = config.core, config.ns_per_cycle
        cyc = costs.class_cycles(config)
        per_class = [cyc[name] for name in OP_CLASSES]
        cycles = 0.0
        for (elem_bytes, vectorisable), acc in self.compute.items():
            work = (sum(n * w for n, w in zip(acc[1:-2], per_class))
                    + acc[-2] * config.tcm.tcm_latency_cycles + acc[-1] * c.store_cycles
                    ) / c.issue_width_ops
            if c.loop_vectorised and vectorisable:
                work /= costs.lanes(config, elem_bytes)
            cycles += acc[0] * c.loop_call_cycles + work
        calls, reads, writes = self.stream
        cycles += calls * c.loop_call_cycles + ((reads + writes) * c.iteration_cycles
                                                + reads * config.tcm.tcm_latency_cycles
                                                + writes * c.store_cycles) / c.issue_width_ops
        total = cycles * ns
        d = config.dma
        total += self.transfers * d.dma_fixed_ns + self.transfer_bytes / d.dma_bytes_per_ns
        for nbytes in self.fills:
            chunks = costs.fill_chunks(nbytes, config)
            total += len(chunks) * d.dma_fixed_ns + nbytes / d.dma_bytes_per_ns
        return total



def element_counts(traces) -> tuple[int, int, bool]:
    """(reads, writes, single_core) of the element-wise accessor over a run's records."""
    reads = writes = 0
    for tr in traces:
        for rec in tr.records:
            if type(rec) is ElementRun:
                reads += rec.reads
                writes += rec.writes
    return reads, writes, len(traces) <= 1


def model_element_ns(reads: int, writes: int, config: HardwareConfig) -> float:
    """What the model charges for these element accesses: reads at ``element_access_ns``,
    writes at ``element_write_fraction`` of it."""
    m = config.memory
    return m.element_access_ns * (reads + m.element_write_fraction * writes)


def engine_element_ns(reads: int, writes: int, config: HardwareConfig) -> float:
    """What the timing stage charged for them (its own cost function)."""
    return costs.element_ns(reads, writes, config) if reads or writes else 0.0


def timing_key(config: HardwareConfig):
    """The part of a configuration a kernel's replay depends on, with the element-access
    cost taken out (it is added in closed form)."""
    return (config.core, config.tcm, config.dma,
            replace(config.memory, element_access_ns=0.0, element_write_fraction=1.0))


class KernelTimer:
    """``timer(run, config)``: the simulated ns of ``run``'s records on ``config``."""

    def __init__(self, max_entries: int = 8192):
        self._memo: OrderedDict = OrderedDict()
        self._counts: dict = {}
        self._profiles: dict = {}
        self.max_entries = max_entries
        self.replays = 0

    def _count(self, run):
        traces = run.functional.traces
        hit = self._counts.get(id(traces))
        if hit is None or hit[0] is not traces:
            hit = (traces, element_counts(traces))
            self._counts[id(traces)] = hit
        return hit[1]

    def _profile(self, traces):
        hit = self._profiles.get(id(traces))
        if hit is None or hit[0] is not traces:
            profiles = [Profile(tr.records) for tr in traces]
            hit = (traces, profiles if all(p.usable for p in profiles) else None)
            self._profiles[id(traces)] = hit
        return hit[1]

    def seed(self, run) -> None:
        """Remember ``run``'s own timing: retiming it on its own configuration is free."""
        reads, writes, single = self._count(run)
        if not single and (reads or writes):
            return
        base = run.timing.simulated_ns - engine_element_ns(reads, writes, run.config)
        self._store((id(run.functional.traces), timing_key(run.config)),
                    (run.functional.traces, base))

    def seed_steps(self, result) -> None:
        """``seed`` every kernel run of a whole-model result (``ModelResult``)."""
        for step in result.steps.values():
            for run in step.kernel_runs:
                self.seed(run)

    def _store(self, key, value) -> None:
        self._memo[key] = value
        self._memo.move_to_end(key)
        while len(self._memo) > self.max_entries:
            self._memo.popitem(last=False)

    def from_profiles(self, run, config: HardwareConfig) -> bool:
        """True when ``run`` on ``config`` is timed from its cores' profiles, with no
        replay: nothing can contend, and any element accesses are one core's."""
        traces = run.functional.traces
        reads, writes, single = self._count(run)
        return ((single or not (reads or writes)) and self._profile(traces) is not None
                and dma_system_class(config).never_contends(config, len(traces)))

    def __call__(self, run, config: HardwareConfig) -> float:
        traces = run.functional.traces
        reads, writes, single = self._count(run)
        if self.from_profiles(run, config):
            # nothing can contend: the closed form's sums, from each core's profile (equal
            # to a replay up to the order of additions: a few units in the last place)
            return (max(p.closed_ns(config) for p in self._profile(traces))
                    + model_element_ns(reads, writes, config))
        if not single and (reads or writes):   # not additive across cores: replay it whole
            self.replays += 1
            return simulate_timing(traces, config, record_timeline=False).simulated_ns
        key = (id(traces), timing_key(config))
        hit = self._memo.get(key)
        if hit is None or hit[0] is not traces:
            zero = replace(config, memory=replace(config.memory, element_access_ns=0.0))
            self.replays += 1
            hit = (traces, simulate_timing(traces, zero, record_timeline=False).simulated_ns)
            self._store(key, hit)
        else:
            self._memo.move_to_end(key)
        return hit[1] + model_element_ns(reads, writes, config)


def replay_ns(run, config: HardwareConfig) -> float:
    """The plain replay (no memo): the reference ``KernelTimer`` must agree with."""
    return simulate_timing(run.functional.traces, config, record_timeline=False).simulated_ns
