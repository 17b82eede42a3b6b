"""Speed of the simulator itself (issue: simulator core).

1. Wall time of `python -m gpsimd_sim run KERNEL` on [32,4096] for each tutorial kernel,
   start-up included, with a warm numba cache (median of N runs). Target: < 1.5 s.
2. The event path's timing stage (8 cores on 2 queues: transfers wait), in the same process
   as plain SimPy: its wall time, and the rate at which it gets through the events the run
   needs (one per transfer and compute block) against plain SimPy's rate over as many
   (median of N). Target: at least 30% of plain SimPy's rate. Where device-memory
   bandwidth binds: the stage with transfers worked out ahead (timing/fluid.py) against
   phase by phase, in the same process.
3. Wall time of `python -m gpsimd_sim validate`, warm cache (median of N). Target: < 5 s.
4. Events the event path schedules per event the run needs (one per transfer and per timed
   record), where nothing contends (a traced run), where transfers wait for queues, and
   where device-memory bandwidth binds (with and without waits for queues). Target: at
   most 1.1 (issue "Fast at every size").

    python benchmarks/bench_run.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

from common import ROOT, compile_package, median_wall, simulator

KERNELS = ["kernels/relu_elementwise.py", "kernels/relu_tcm.py", "kernels/relu_multicore.py"]


def wall_of_run(kernel: str, repeat: int) -> float:
    return median_wall(simulator("run", kernel, "--shape", "32x4096", "--json"), repeat)


def plain_simpy_rate(n_events: int) -> float:
    import simpy

    env = simpy.Environment()

    def proc(env, n):
        for _ in range(n):
            yield env.timeout(1.0)

    for _ in range(8):
        env.process(proc(env, n_events // 8))
    t0 = time.perf_counter()
    env.run()
    return n_events / (time.perf_counter() - t0)


def simulator_rate() -> tuple[float, int]:
    from gpsimd_sim.simulation import RunOptions, run
    from gpsimd_sim.timing.engine import simulate_timing

    # two queues for eight cores: transfers contend, so the event path runs (where nothing
    # can contend the timing is closed-form and schedules no event at all)
    result = run(RunOptions(kernel=str(ROOT / "kernels/relu_multicore.py"), shape=(256, 4096),
                            buffer_size=64, overrides=["dma_queues=2"]))
    traces, config = result.functional.traces, result.config
    t0 = time.perf_counter()
    timing = simulate_timing(traces, config, record_timeline=False, events=True)
    stage = time.perf_counter() - t0
    needed = sum(c.transfers + c.loop_calls for c in timing.cores)
    return needed / stage, needed, stage, timing.events


def closed_form_speedup() -> float:
    """The closed form against the event path on a run where both apply (trn1)."""
    from gpsimd_sim.simulation import RunOptions, run
    from gpsimd_sim.timing.engine import simulate_timing

    result = run(RunOptions(kernel=str(ROOT / "kernels/relu_multicore.py"), shape=(256, 4096),
                            buffer_size=64))
    traces, config = result.functional.traces, result.config
    t0 = time.perf_counter()
    simulate_timing(traces, config, record_timeline=False, events=True)
    t1 = time.perf_counter()
    simulate_timing(traces, config, record_timeline=False, events=False)
    return (t1 - t0) / (time.perf_counter() - t1)


def work_ahead_speedup(repeat: int) -> list[tuple[str, float, int, int]]:
    """Where bandwidth binds: the timing stage worked out ahead against phase by phase, on
    the same records in the same process (median ratio of ``repeat`` paired runs)."""
    from gpsimd_sim.simulation import RunOptions, run
    from gpsimd_sim.timing.engine import EngineModel

    rows = []
    for what, _, _, preset, overrides in EVENT_CASES[2:]:
        result = run(RunOptions(kernel=str(ROOT / "kernels/relu_multicore.py"),
                                shape=(256, 4096), buffer_size=64, cores=8, preset=preset,
                                overrides=overrides))
        traces, config = result.functional.traces, result.config
        ratios = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            ahead = EngineModel(config, record_timeline=False).run(traces)
            t1 = time.perf_counter()
            phased = EngineModel(config, record_timeline=False).run(traces, work_ahead=False)
            ratios.append((t1 - t0) / (time.perf_counter() - t1))
        rows.append((what, statistics.median(ratios), ahead.events, phased.events))
    return rows


EVENT_CASES = [  # (what, kernel, cores, preset, overrides)
    ("nothing contends (trn1, traced)", "kernels/relu_tcm.py", None, "trn1", []),
    ("8 cores wait for 2 queues", "kernels/relu_multicore.py", 8, "trn1", ["dma_queues=2"]),
    ("8 cores share 100 B/ns of device memory", "kernels/relu_multicore.py", 8, "trn1",
     ["hbm_bytes_per_ns=100"]),
    ("8 cores on trn2's engines (307 B/ns in all)", "kernels/relu_multicore.py", 8, "trn2",
     []),
    ("8 cores wait for 2 queues and share 50 B/ns", "kernels/relu_multicore.py", 8, "trn1",
     ["hbm_bytes_per_ns=50", "dma_queues=2"]),
]


def events_per_needed(kernel: str, cores, preset, overrides) -> tuple[int, int]:
    """(events scheduled, events needed) of the event path on [32,4096]."""
    from gpsimd_sim.simulation import RunOptions, run

    result = run(RunOptions(kernel=str(ROOT / kernel), shape=(32, 4096), cores=cores,
                            preset=preset, overrides=overrides, timeline=True))
    needed = sum(c.transfers + c.loop_calls for c in result.timing.cores)
    return result.timing.events, needed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    compile_package()   # as an installed copy is
    print("1. `run` wall time on [32,4096], warm cache, median of", args.repeat)
    for k in KERNELS:
        print(f"   {k:<32} {wall_of_run(k, args.repeat):.3f} s")
    ratios, sims, plains, stages = [], [], [], []
    for _ in range(args.repeat):
        sim, needed, stage, events = simulator_rate()
        plain = plain_simpy_rate(needed)
        sims.append(sim)
        plains.append(plain)
        stages.append(stage)
        ratios.append(sim / plain)
    print(f"2. timing stage: {statistics.median(stages):.3f} s, {events:,} events scheduled "
          f"for {needed:,} needed: {statistics.median(sims):,.0f} needed events/s; plain "
          f"SimPy {statistics.median(plains):,.0f} events/s; ratio "
          f"{statistics.median(ratios):.2f} (target >= 0.30)")
    print(f"   closed form {statistics.median(closed_form_speedup() for _ in range(3)):.1f}x "
          "faster than the event path where nothing can contend")
    print("   where bandwidth binds (relu_multicore, 8 cores, buffer 64, [256,4096]), the stage "
          "worked out ahead against phase by phase:")
    for what, ratio, ahead, phased in work_ahead_speedup(args.repeat):
        print(f"   {what:<46} {ratio:.2f}x the wall time, {ahead:,} events for {phased:,}")
    validate = median_wall(simulator("validate"), args.repeat)
    print(f"3. `validate` wall time, warm cache, median of {args.repeat}: {validate:.3f} s "
          "(target < 5 s)")
    print("4. events scheduled per event needed, [32,4096] (target <= 1.1)")
    for what, kernel, cores, preset, overrides in EVENT_CASES:
        events, needed = events_per_needed(kernel, cores, preset, overrides)
        print(f"   {what:<42} {events:>6} / {needed:<6} = {events / needed:.2f}")


if __name__ == "__main__":
    main()
