"""Work run beside the main thread hands back its value, or its exception, unchanged."""
import hashlib
import threading

import numpy as np
import pytest

from gpsimd_sim.background import Background
from gpsimd_sim.simulation import RunOptions, run


def test_background_work_returns_its_value():
    x = np.arange(10.0)
    assert Background(np.sum, x).result() == 45.0


def test_background_work_raises_its_exception_when_the_result_is_asked_for():
    def fails():
        raise ValueError("bad")
    work = Background(fails)
    with pytest.raises(ValueError, match="bad"):
        work.result()


def test_a_runs_input_hashes_are_those_of_its_inputs():
    result = run(RunOptions(kernel="kernels/relu_tcm.py", shape=(4, 300)))
    hashes = [i["blake2b"] for i in result.to_dict()["inputs"]]
    assert hashes == [hashlib.blake2b(a.tobytes(), digest_size=8).hexdigest()
                      for a in result.args]


def test_work_done_on_this_thread_returns_its_value_and_starts_no_thread():
    before = threading.active_count()
    work = Background(np.sum, np.arange(4.0), thread=False)
    assert threading.active_count() == before
    assert work.result() == 6.0


def _warm_recorder(monkeypatch):
    """Make every run's inputs large enough to draw beside numba's set-up, and record the
    order in which the set-up ends and the simulation starts."""
    import time

    import gpsimd_sim.simulation as simulation
    events = []

    def warm():
        time.sleep(0.2)   # longer than drawing these inputs
        events.append("set up on a second thread"
                      if threading.current_thread() is not threading.main_thread() else "here")

    simulate = simulation.simulate_loaded

    def simulate_loaded(*args, **kwargs):
        events.append("simulated")
        return simulate(*args, **kwargs)
    monkeypatch.setattr(simulation, "_WARM_ELEMENTS", 1)
    monkeypatch.setattr(simulation, "warm_numba", warm)
    monkeypatch.setattr(simulation, "simulate_loaded", simulate_loaded)
    return events


def test_numba_is_set_up_on_a_second_thread_that_ends_before_the_run_starts(monkeypatch):
    # the run may fork its functional worker: no thread may be alive by then
    events = _warm_recorder(monkeypatch)
    result = run(RunOptions(kernel="tests/kernels/relu_tcm_any_dtype.py", shape=(4, 300)))
    assert result.to_dict()["correct"] is True
    assert events == ["set up on a second thread", "simulated"]


def test_numba_set_up_ends_before_bad_inputs_are_reported(monkeypatch):
    from gpsimd_sim.errors import ConfigError
    events = _warm_recorder(monkeypatch)
    before = threading.active_count()
    with pytest.raises(ConfigError):
        run(RunOptions(kernel="kernels/relu_tcm.py", shape=(4, 300), dtype="complex64"))
    assert events == ["set up on a second thread"] and threading.active_count() == before


def test_a_kernel_without_loops_does_not_set_numba_up(monkeypatch):
    events = _warm_recorder(monkeypatch)
    result = run(RunOptions(kernel="kernels/relu_stream.py", shape=(4, 300)))
    assert result.to_dict()["correct"] is True
    assert events == ["simulated"]
