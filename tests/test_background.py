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
