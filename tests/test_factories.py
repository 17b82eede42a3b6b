"""Tensor factories (torch::zeros, ones, full, eye, empty): contents, and a timed fill for
every one that writes its data."""
import textwrap

import pytest

from gpsimd_sim.records import Fill
from gpsimd_sim.simulation import RunOptions, run

FACTORIES = {
    "zeros": ("zeros(t_in.sizes(), float32)", "np.zeros_like(x)"),
    "ones": ("ones(t_in.sizes(), float32)", "np.ones_like(x)"),
    "full": ("full(t_in.sizes(), 2.5, float32)", "np.full_like(x, 2.5)"),
    "eye": ("eye(t_in.sizes()[0], t_in.sizes()[1], float32)",
            "np.eye(*x.shape, dtype=x.dtype)"),
}


def kernel_file(tmp_path, make: str, reference: str) -> str:
    path = tmp_path / "factory.py"
    path.write_text(textwrap.dedent(f"""
        import numpy as np
        from gpsimd_sim.api import empty, eye, float32, full, kernel, ones, zeros

        def reference(x):
            return {reference}

        @kernel(reference=reference)
        def make(t_in):
            return {make}
    """))
    return str(path)


@pytest.mark.parametrize("name", FACTORIES)
def test_a_factory_that_writes_its_data_gives_the_values_and_one_timed_fill(tmp_path, name):
    make, reference = FACTORIES[name]
    result = run(RunOptions(kernel=kernel_file(tmp_path, make, reference), shape=(3, 5)))
    assert result.functional.correct
    fills = [r for r in result.functional.traces[0].records if type(r) is Fill]
    assert [f.nbytes for f in fills] == [3 * 5 * 4]
    assert result.simulated_ns > 0


def test_empty_writes_nothing_and_costs_nothing(tmp_path):
    path = kernel_file(tmp_path, "empty(t_in.sizes(), float32)", "np.zeros_like(x)")
    result = run(RunOptions(kernel=path, shape=(3, 5)))
    assert not result.functional.correct  # NaN contents: nobody wrote them
    assert not [r for r in result.functional.traces[0].records if type(r) is Fill]
    assert result.simulated_ns == 0
