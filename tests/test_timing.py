"""Simulated time moves the right way when the parameter that should move it changes.

Small shapes, in-process runs; each test compares runs that differ in one parameter.
"""
from pathlib import Path

import pytest
import simpy

from gpsimd_sim.simulation import RunOptions, run

KERNELS = Path(__file__).resolve().parents[1] / "kernels"
ELEMENTWISE = str(KERNELS / "relu_elementwise.py")
TCM = str(KERNELS / "relu_tcm.py")
MULTICORE = str(KERNELS / "relu_multicore.py")
SHAPE = (8, 1024)  # 8 blocks of the default 1024-element buffer: one per core at 8 cores


def simulated_ns(kernel, shape=SHAPE, **options):
    return run(RunOptions(kernel=kernel, shape=shape, **options)).simulated_ns


def multicore_ns(cores, overrides):
    return simulated_ns(MULTICORE, cores=cores, overrides=overrides)


def test_more_dma_bandwidth_never_slows_the_tcm_kernel():
    rates = [0.5, 1, 5, 27.2, 100, 1000]
    times = [simulated_ns(TCM, overrides=[f"dma_bytes_per_ns={r}"]) for r in rates]
    assert all(faster <= slower for slower, faster in zip(times, times[1:]))
    assert times[-1] < times[0]


def test_more_dma_bandwidth_never_slows_the_multicore_kernel():
    rates = [0.5, 5, 27.2, 1000]
    times = [simulated_ns(MULTICORE, cores=8, overrides=[f"dma_bytes_per_ns={r}"])
             for r in rates]
    assert all(faster <= slower for slower, faster in zip(times, times[1:]))
    assert times[-1] < times[0]


def test_doubling_the_element_access_cost_about_doubles_the_elementwise_time():
    base = simulated_ns(ELEMENTWISE, shape=(7, 13), overrides=["element_access_ns=200"])
    doubled = simulated_ns(ELEMENTWISE, shape=(7, 13), overrides=["element_access_ns=400"])
    # not exactly 2: the zeros() fill and the loop's own compute do not change
    assert 1.9 < doubled / base <= 2.0


def test_element_access_cost_does_not_change_the_tcm_kernel():
    base = simulated_ns(TCM, overrides=["element_access_ns=200"])
    assert simulated_ns(TCM, overrides=["element_access_ns=400"]) == base


def test_more_dma_fixed_cost_slows_the_tcm_kernel_by_that_cost_per_transfer():
    # fill_chunk_bytes=0: the zeros() fill is one transfer, so transfers are easy to count
    fast = ["fill_chunk_bytes=0", "dma_fixed_ns=1000"]
    result = run(RunOptions(kernel=TCM, shape=SHAPE, overrides=fast))
    slower = simulated_ns(TCM, overrides=["fill_chunk_bytes=0", "dma_fixed_ns=2000"])
    d = result.to_dict()
    transfers = d["dma_transfers"] + d["fills"]  # one core, every transfer in sequence
    assert slower - result.simulated_ns == pytest.approx(1000 * transfers)


def test_more_cores_speed_the_multicore_kernel_up_when_nothing_is_shared_out():
    times = [multicore_ns(c, []) for c in (1, 2, 4, 8)]
    assert all(faster < slower for slower, faster in zip(times, times[1:]))
    assert times[0] / times[-1] > 6  # 8 equal partitions: close to linear


def test_more_cores_stop_helping_once_the_dma_queues_saturate():
    # Two slow queues shared by every core: past a few cores the queues are the bottleneck.
    queues, rate = 2, 2.0
    overrides = [f"dma_queues={queues}", f"dma_bytes_per_ns={rate}"]
    t1, t2, t4, t8 = (multicore_ns(c, overrides) for c in (1, 2, 4, 8))
    assert t2 < 0.6 * t1
    assert t8 == pytest.approx(t4, rel=0.02)
    moved = run(RunOptions(kernel=MULTICORE, shape=SHAPE, cores=8,
                           overrides=overrides)).to_dict()["dma_bytes"]
    assert t8 >= moved / (queues * rate)  # never faster than every queue busy all the time


def test_more_cores_stop_helping_once_device_memory_bandwidth_saturates():
    # One core's transfers use a fraction of 8 B/ns; eight cores' would need about 3x that.
    hbm = 8.0
    overrides = [f"hbm_bytes_per_ns={hbm}"]
    t1, t2, t4, t8 = (multicore_ns(c, overrides) for c in (1, 2, 4, 8))
    # Two cores run the same program in lockstep, so their transfers always overlap and
    # share the 8 B/ns: each data phase takes twice as long, and 2 cores gain less than 2x.
    assert t2 < 0.7 * t1
    # every doubling of the cores buys less than the one before, and 4 -> 8 far from 2x
    assert t1 / t2 > t2 / t4 > t4 / t8
    assert t8 > 0.7 * t4
    moved = run(RunOptions(kernel=MULTICORE, shape=SHAPE, cores=8,
                           overrides=overrides)).to_dict()["dma_bytes"]
    assert t8 >= moved / hbm


def test_the_tcm_kernel_is_faster_than_the_elementwise_kernel():
    assert simulated_ns(TCM) < simulated_ns(ELEMENTWISE)


def test_a_larger_buffer_makes_the_tcm_kernel_faster_when_fixed_costs_dominate():
    small = simulated_ns(TCM, buffer_size=64)
    large = simulated_ns(TCM, buffer_size=1024)
    assert large < small


def test_cycles_are_simulated_time_at_the_core_clock():
    result = run(RunOptions(kernel=TCM, shape=(3, 5), overrides=["clock_hz=2e9"]))
    assert result.to_dict()["cycles"] == round(result.simulated_ns * 2.0)


# -- the closed form (no events where nothing can contend) ---------------------------------

from dataclasses import asdict  # noqa: E402

from conftest import workloads  # noqa: E402
from hypothesis import given  # noqa: E402

from gpsimd_sim.config.presets import load_config  # noqa: E402
from gpsimd_sim.timing.engine import simulate_timing  # noqa: E402


def _figures(timing):
    return [(c.end_ns, dict(c.parts), dict(c.phases), c.transfers, c.bytes, c.loop_calls,
             c.fill_transfers, c.fill_bytes) for c in timing.cores], timing.simulated_ns


@given(workloads())
def test_the_closed_form_gives_the_event_paths_figures_bit_for_bit(w):
    result = run(w.options())
    traces, config = result.functional.traces, result.config
    closed = simulate_timing(traces, config, record_timeline=False, events=False)
    events = simulate_timing(traces, config, record_timeline=False, events=True)
    assert closed.closed_form and not events.closed_form
    assert closed.events == 0 and events.events > 0
    assert _figures(closed) == _figures(events)


def test_the_closed_form_is_used_only_where_nothing_can_contend():
    config, _ = load_config("trn1")
    result = run(RunOptions(kernel=MULTICORE, shape=SHAPE, cores=8))
    assert result.timing.closed_form            # 16 queues for 8 cores, bandwidth to spare
    shared = run(RunOptions(kernel=MULTICORE, shape=SHAPE, cores=8,
                            overrides=["dma_queues=2"]))
    assert not shared.timing.closed_form and shared.timing.events > 0
    starved = run(RunOptions(kernel=MULTICORE, shape=SHAPE, cores=8,
                             overrides=["hbm_bytes_per_ns=50"]))
    assert not starved.timing.closed_form


# -- transfers planned when issued (one event each) ---------------------------------------

from itertools import groupby  # noqa: E402
from unittest import mock  # noqa: E402

from hypothesis import settings, strategies as st  # noqa: E402

from gpsimd_sim.timing import engine as engine_module  # noqa: E402
from gpsimd_sim.timing.dma import Phases, SharedQueues  # noqa: E402
from gpsimd_sim.timing.engine import EngineModel  # noqa: E402
from gpsimd_sim.timing.queues import QueuePool  # noqa: E402
from gpsimd_sim.timing.scheduler import Scheduler  # noqa: E402


class _PhaseByPhase(SharedQueues):
    """The shared queues simulated one phase at a time (a timeout for the fixed cost, a
    wait in the pool, a timeout for the data, the bandwidth counter told as it happens)."""

    def __init__(self, env, config, ncores, on_rate=None, work_ahead=True):
        super().__init__(env, config, ncores, on_rate, work_ahead=False)
        self.planned = False
        self.queues = QueuePool(env, config.dma.dma_queues)
        self.moving_now = 0

    def shared_transfer(self, core, nbytes):
        env, fixed, hold, bw = self.env, self.fixed_ns, self.hold, self.bandwidth
        start = env.now
        if not hold:
            yield env.timeout(fixed)
        asked = env.now
        queue = self.queues.take()
        if not isinstance(queue, int):
            queue = yield queue
        got = env.now
        if hold:
            yield env.timeout(fixed)
        moving = env.now
        self._rate(+1)
        yield env.timeout(max(0.0, nbytes) / bw.cap)
        self._rate(-1)
        self.queues.give_back(queue)
        trigger = (got, moving) if hold else (start, asked)
        return Phases(queue, start, trigger, (asked, got), got if hold else moving, moving,
                      env.now)

    def _rate(self, step):
        self.moving_now += step
        if self.bandwidth.on_change is not None:
            self.bandwidth.on_change(self.moving_now * self.bandwidth.cap)


def _timeline(timing):
    """The spans, and each counter as the trace draws it: the level after each instant."""
    counters = {}
    for name, t, value in timing.counters:
        counters.setdefault(name, []).append((t, value))
    drawn = {name: [(t, list(g)[-1][1]) for t, g in groupby(changes, key=lambda c: c[0])]
             for name, changes in counters.items()}
    return [(s.track, s.name, s.cat, s.start_ns, s.end_ns, s.args) for s in timing.spans], drawn


@settings(max_examples=30)
@given(workloads(kernels=("tcm",)), st.integers(1, 3), st.booleans())
def test_a_planned_transfer_is_timed_as_the_phase_by_phase_simulation_to_the_bit(w, queues,
                                                                                 hold):
    result = run(w.options(overrides=[f"dma_queues={queues}",
                                      f"dma_fixed_holds_queue={str(hold).lower()}"]))
    traces, config = result.functional.traces, result.config
    planned = EngineModel(config, record_timeline=True).run(traces)
    with mock.patch.object(engine_module, "dma_system_class", lambda config: _PhaseByPhase):
        reference = EngineModel(config, record_timeline=True).run(traces)
    assert _figures(planned) == _figures(reference)
    assert _timeline(planned) == _timeline(reference)


@settings(max_examples=30)
@given(workloads(), st.integers(1, 9), st.booleans(), st.sampled_from([0.0, 0.5, 500.0]))
def test_planned_runs_on_the_scheduler_are_simpys_to_the_bit(w, queues, hold, fixed):
    # the figures, the timeline (spans, instants, counters, time 0 an int as SimPy's) and
    # the event count, with queues to wait for or not
    result = run(w.options(overrides=[f"dma_queues={queues}", f"dma_fixed_ns={fixed}",
                                      f"dma_fixed_holds_queue={str(hold).lower()}"]))
    traces, config = result.functional.traces, result.config
    for timeline in (True, False):
        light = EngineModel(config, record_timeline=timeline)
        ours = light.run(traces)
        simpys = EngineModel(config, record_timeline=timeline).run(traces, scheduler=False)
        assert type(light.env) is Scheduler
        assert _figures(ours) == _figures(simpys) and ours.events == simpys.events
        assert _timeline(ours) == _timeline(simpys)
        assert [repr(i) for i in ours.instants] == [repr(i) for i in simpys.instants]


def test_only_runs_where_bandwidth_never_binds_go_on_the_scheduler():
    result = run(RunOptions(kernel=KERNELS / "relu_multicore.py", shape=(4, 256), cores=8,
                            buffer_size=64, overrides=["hbm_bytes_per_ns=100"]))
    binding = EngineModel(result.config)
    binding.run(result.functional.traces)
    assert type(binding.env) is simpy.Environment


class _Logged(SharedQueues):
    """The shared queues, keeping every transfer's phases."""
    log: list = []

    def plan(self, core, nbytes):
        phases = super().plan(core, nbytes)
        self.log.append(phases)
        return phases


def _queue_phases(w, queues, hold) -> list[Phases]:
    result = run(w.options(overrides=[f"dma_queues={queues}",
                                      f"dma_fixed_holds_queue={str(hold).lower()}"]))
    _Logged.log = []
    with mock.patch.object(engine_module, "dma_system_class", lambda config: _Logged):
        EngineModel(result.config, record_timeline=False).run(result.functional.traces)
    return _Logged.log


QUEUE_CONTENTION = (workloads(kernels=("multicore",)), st.integers(1, 3), st.booleans())


@settings(max_examples=30)
@given(*QUEUE_CONTENTION)
def test_a_queue_carries_one_transfer_at_a_time(w, queues, hold):
    log = _queue_phases(w, queues, hold)
    for q in range(queues):
        held = sorted((p.held, p.end) for p in log if p.channel == q)
        assert all(a[1] <= b[0] for a, b in zip(held, held[1:]))


@settings(max_examples=30)
@given(*QUEUE_CONTENTION)
def test_queues_are_granted_first_come_first_served(w, queues, hold):
    log = sorted(_queue_phases(w, queues, hold), key=lambda p: p.wait[0])
    for a, b in zip(log, log[1:]):
        if a.wait[0] < b.wait[0]:
            assert a.wait[1] <= b.wait[1]


@settings(max_examples=30)
@given(*QUEUE_CONTENTION)
def test_no_queue_idles_while_a_transfer_waits_for_one(w, queues, hold):
    log = _queue_phases(w, queues, hold)
    for p in log:
        asked, got = p.wait
        if got > asked:   # every queue busy from asked until got
            for q in range(queues):
                covered = asked
                for held, end in sorted((o.held, o.end) for o in log if o.channel == q):
                    if held <= covered < end:
                        covered = end
                assert covered >= got


def _events_needed(timing) -> int:
    return sum(c.transfers + c.loop_calls for c in timing.cores)


def test_a_transfer_costs_one_event_where_bandwidth_never_binds():
    result = run(RunOptions(kernel=TCM, shape=(32, 4096), timeline=True))
    assert result.timing.events <= 1.1 * _events_needed(result.timing)


def test_a_transfer_waiting_for_a_queue_still_costs_one_event():
    result = run(RunOptions(kernel=MULTICORE, shape=(32, 4096), cores=8,
                            overrides=["dma_queues=2"], timeline=True))
    assert sum(c.phases["wait"] for c in result.timing.cores) > 0
    assert result.timing.events <= 1.1 * _events_needed(result.timing)


# -- shared bandwidth worked out ahead (one event per transfer) ----------------------------

from gpsimd_sim.timing.dma import dma_system_class  # noqa: E402


def _assert_as_phase_by_phase(result) -> tuple:
    """Every figure and the timeline of ``result``'s run, worked out ahead, are the
    phase-by-phase path's; returns both timings."""
    return _assert_traces_as_phase_by_phase(result.config, result.functional.traces)


def _assert_traces_as_phase_by_phase(config, traces) -> tuple:
    """``_assert_as_phase_by_phase`` for records made by hand."""
    ahead = EngineModel(config, record_timeline=True).run(traces)
    reference = EngineModel(config, record_timeline=True).run(traces, work_ahead=False)
    assert _figures(ahead) == _figures(reference)
    assert _timeline(ahead) == _timeline(reference)
    return ahead, reference


BINDING = (workloads(kernels=("multicore",)).filter(lambda w: w.cores > 1),
           st.sampled_from(["trn1", "trn2"]),
           st.floats(1, 200),                              # hbm_bytes_per_ns: binds
           st.sampled_from([1.0, 600.0, 1300.0]) | st.floats(1, 5000),   # dma_fixed_ns
           st.booleans(),                                  # dma_fixed_holds_queue
           st.integers(1, 3) | st.integers(1, 16))         # dma_queues (trn1): often waited for


@settings(max_examples=40)
@given(*BINDING)
def test_shared_bandwidth_worked_out_ahead_times_every_transfer_as_phase_by_phase_to_the_bit(
        w, preset, hbm, fixed, hold, queues):
    result = run(w.options(preset=preset, overrides=[
        f"hbm_bytes_per_ns={hbm!r}", f"dma_fixed_ns={fixed!r}",
        f"dma_fixed_holds_queue={str(hold).lower()}", f"dma_queues={queues}"]))
    _assert_as_phase_by_phase(result)


def _dma(preset, overrides, cores=8):
    config = run(RunOptions(kernel=MULTICORE, shape=SHAPE, cores=cores, preset=preset,
                            overrides=overrides)).config
    return dma_system_class(config)(simpy.Environment(), config, cores)


def test_shared_bandwidth_is_worked_out_ahead_wherever_it_binds():
    assert _dma("trn2", []).fluid                                   # 8 x 38.4 > 307 B/ns
    assert _dma("trn1", ["hbm_bytes_per_ns=100"]).fluid             # 16 queues for 8 cores
    assert _dma("trn1", ["hbm_bytes_per_ns=50", "dma_queues=2"]).fluid   # queues waited for
    assert not _dma("trn1", []).fluid                               # never binds: planned


def test_shared_bandwidth_with_no_fixed_cost_is_timed_phase_by_phase():
    # a transfer then asks for its channel at the very instant it is issued, and which of
    # two steps at that instant goes first is not known ahead
    binding = _dma("trn1", ["hbm_bytes_per_ns=50", "dma_queues=2", "dma_fixed_ns=0"])
    assert not binding.fluid and not binding.planned


def _fell_back(config, traces) -> bool:
    """True when a run was begun worked out ahead and timed again phase by phase."""
    engine = EngineModel(config, record_timeline=False)
    with mock.patch.object(engine, "_run", wraps=engine._run) as timed:
        engine.run(traces)
    return timed.call_count == 2


def _timed_phase_by_phase(config, traces) -> bool:
    """True when a run was timed phase by phase (it schedules the phase-by-phase events)."""
    ahead = EngineModel(config, record_timeline=False).run(traces)
    reference = EngineModel(config, record_timeline=False).run(traces, work_ahead=False)
    return ahead.events == reference.events


def test_a_run_with_a_record_taking_no_time_is_timed_phase_by_phase():
    # a zero timeout goes after the completion events made at its instant and before
    # those made later: its place among the cores' wake-ups is not known ahead
    zero = [f"{name}=0" for name in ("loop_call_cycles", "iteration_cycles",
                                      "compare_cycles", "select_cycles", "store_cycles",
                                      "tcm_latency_cycles", "arith_cycles")]
    result = run(RunOptions(kernel=MULTICORE, shape=(8, 1000), cores=4, overrides=[
        "hbm_bytes_per_ns=30", "dma_queues=3", "dma_fixed_holds_queue=true", *zero]))
    assert _timed_phase_by_phase(result.config, result.functional.traces)
    assert not _fell_back(result.config, result.functional.traces)   # seen before it runs
    _assert_as_phase_by_phase(result)


def test_a_timer_and_a_transfer_made_at_one_instant_and_due_together_fall_back():
    # with a 5 ns fixed cost, transfers issued as the bandwidth's timer is set start as
    # it fires: which was made first is not known ahead
    result = run(RunOptions(kernel=MULTICORE, shape=(32, 4096), buffer_size=64, cores=8,
                            preset="trn2", overrides=["dma_fixed_ns=5"]))
    assert _fell_back(result.config, result.functional.traces)
    _assert_as_phase_by_phase(result)


def test_a_transfer_of_no_bytes_is_timed_phase_by_phase():
    from gpsimd_sim.records import CoreTrace, Dma, ElementRun
    config, _ = load_config("trn2", {"hbm_bytes_per_ns": "20", "dma_bytes_per_ns": "25",
                                     "dma_fixed_ns": "10", "element_access_ns": "1"})
    traces = [CoreTrace(0, [ElementRun(5, 0, 0), Dma("to_tcm", "x", 0, 50, 200, 0, 0, 1)]),
              CoreTrace(1, [ElementRun(15, 0, 0), Dma("to_tcm", "y", 0, 0, 0, 0, 0, 2)])]
    assert _timed_phase_by_phase(config, traces)
    _assert_traces_as_phase_by_phase(config, traces)


def test_a_transfer_sharing_device_memory_bandwidth_costs_one_event():
    result = run(RunOptions(kernel=MULTICORE, shape=(32, 4096), cores=8,
                            overrides=["hbm_bytes_per_ns=100"], timeline=True))
    cap = result.config.dma.dma_bytes_per_ns
    slowed = [c for c in result.timing.cores if c.phases["transfer"] > c.bytes / cap * 1.01]
    assert slowed   # the bandwidth did bind
    assert result.timing.events <= 1.1 * _events_needed(result.timing)


WORKED_OUT_EXAMPLES = {
    # 8 x 38.4 B/ns > 307 B/ns binds, and many transfers start or end at the very
    # nanosecond another does
    "trn2 engines": ("clamp_multicore.py", (32, 4096), 64, 8, "trn2", []),
    # transfers queue for the 2 queues in FIFO order
    "waiting for queues": ("relu_multicore.py", (8, 1000), None, 8, "trn1",
                           ["hbm_bytes_per_ns=50", "dma_queues=2"]),
    # a held queue handed on: its transfer's fixed cost starts after those issued then
    "held queues handed on": ("relu_multicore.py", (3, 777), 64, 5, "trn1",
                              ["hbm_bytes_per_ns=30", "dma_queues=3",
                               "dma_fixed_holds_queue=true"]),
    # a core woken as another's compute ends at the same instant goes second
    "wake-up after compute": ("clamp_multicore.py", (8, 1000), 64, 5, "trn1",
                              ["hbm_bytes_per_ns=30", "dma_queues=3",
                               "dma_fixed_holds_queue=true"]),
}


@pytest.mark.parametrize("example", WORKED_OUT_EXAMPLES)
def test_shared_bandwidth_worked_out_ahead_matches_phase_by_phase_in_the_documented_cases(
        example):
    kernel, shape, buffer, cores, preset, overrides = WORKED_OUT_EXAMPLES[example]
    result = run(RunOptions(kernel=str(KERNELS / kernel), shape=shape, buffer_size=buffer,
                            cores=cores, preset=preset, overrides=overrides))
    ahead, reference = _assert_as_phase_by_phase(result)
    assert ahead.events < reference.events   # it was worked out ahead


def test_a_transfer_waiting_for_a_queue_and_sharing_bandwidth_costs_one_event():
    result = run(RunOptions(kernel=MULTICORE, shape=(32, 4096), cores=8,
                            overrides=["hbm_bytes_per_ns=50", "dma_queues=2"], timeline=True))
    assert sum(c.phases["wait"] for c in result.timing.cores) > 0
    assert result.timing.events <= 1.1 * _events_needed(result.timing)


def test_a_fixed_cost_too_small_to_move_the_clock_is_timed_phase_by_phase():
    # 1e-30 ns added to 1 ns leaves 1 ns: a transfer asks for its queue at the very
    # instant it is issued, as with no fixed cost (found by a review, 316 against 328 ns)
    from gpsimd_sim.records import CoreTrace, Dma, ElementRun
    config, _ = load_config("trn1", {"dma_fixed_ns": "1e-30", "dma_bytes_per_ns": "16",
                                     "hbm_bytes_per_ns": "16", "dma_queues": "2",
                                     "dma_fixed_holds_queue": "false",
                                     "element_access_ns": "1"})

    def dma(n):
        return Dma("to_tcm", "x", 0, n, n, 0, 0, 1)

    traces = [CoreTrace(0, [ElementRun(1, 0, 1), dma(64), ElementRun(1000, 0, 1)]),
              CoreTrace(1, [ElementRun(1, 0, 1), dma(64), ElementRun(1000, 0, 1)]),
              CoreTrace(2, [ElementRun(2, 0, 1), dma(64), dma(64)]),
              CoreTrace(3, [ElementRun(2, 0, 1), ElementRun(7, 0, 1), dma(64), dma(64)]),
              CoreTrace(4, [ElementRun(10, 0, 1), dma(64)])]
    assert _fell_back(config, traces)
    _assert_traces_as_phase_by_phase(config, traces)


def test_a_model_run_twice_times_each_run_afresh():
    result = run(RunOptions(kernel=KERNELS / "relu_multicore.py", shape=(4, 256), cores=8,
                            buffer_size=64, overrides=["dma_queues=2"]))
    traces, config = result.functional.traces, result.config
    fresh = EngineModel(config).run(traces, scheduler=False)
    model = EngineModel(config)
    model.run(traces)
    again = model.run(traces, scheduler=False)
    assert type(model.env) is simpy.Environment
    assert _figures(again) == _figures(fresh) and again.events == fresh.events
    assert _timeline(again) == _timeline(fresh)
