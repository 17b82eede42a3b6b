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
from ..records import ElementRun
from ..timing import costs
from ..timing.engine import simulate_timing


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
        self.max_entries = max_entries
        self.replays = 0

    def _count(self, run):
        traces = run.functional.traces
        hit = self._counts.get(id(traces))
        if hit is None or hit[0] is not traces:
            hit = (traces, element_counts(traces))
            self._counts[id(traces)] = hit
        return hit[1]

    def seed(self, run) -> None:
        """Remember ``run``'s own timing: retiming it on its own configuration is free."""
        reads, writes, single = self._count(run)
        if not single and (reads or writes):
            return
        base = run.timing.simulated_ns - engine_element_ns(reads, writes, run.config)
        self._store((id(run.functional.traces), timing_key(run.config)),
                    (run.functional.traces, base))

    def _store(self, key, value) -> None:
        self._memo[key] = value
        self._memo.move_to_end(key)
        while len(self._memo) > self.max_entries:
            self._memo.popitem(last=False)

    def __call__(self, run, config: HardwareConfig) -> float:
        traces = run.functional.traces
        reads, writes, single = self._count(run)
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
