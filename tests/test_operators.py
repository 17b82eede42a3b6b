"""Kernels for real operators: several inputs of their own shapes, scalars, shape functions,
references and tolerances, the Python API, the device tensor ops, and no escape hatches.

In-process runs on small shapes; the command line's bad-input cases are in
tests/test_bad_input_operators.py.
"""
import json
import textwrap
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import gpsimd_sim
from gpsimd_sim.errors import ConfigError, KernelFault, SimError
from gpsimd_sim.functional.check import compare
from gpsimd_sim.records import ElementRun, TensorOp
from gpsimd_sim.simulation import RunOptions, run
from gpsimd_sim.functional.inputs import TensorInput

ROOT = Path(__file__).resolve().parents[1]
K = {name: str(ROOT / "kernels" / f"{name}.py")
     for name in ("relu_backward", "bias_add", "clamp_multicore", "softmax_rows")}


def write(tmp_path, body: str, name="k.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def rng_array(shape, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# -- several inputs, each with its own shape ------------------------------------------------

def test_relu_backward_takes_two_inputs_and_passes_the_gradient_where_the_input_was_positive():
    grad, x = rng_array((4, 9), 1), rng_array((4, 9), 2)
    result = gpsimd_sim.simulate(K["relu_backward"], grad, x)
    assert result.correct
    np.testing.assert_array_equal(result.output, np.where(x > 0, grad, 0))


def test_relu_backward_reads_the_gradient_only_where_the_input_is_positive():
    grad, x = rng_array((4, 9), 1), rng_array((4, 9), 2)
    result = gpsimd_sim.simulate(K["relu_backward"], grad, x)
    runs = [r for r in result.functional.traces[0].records if type(r) is ElementRun]
    assert sum(r.reads for r in runs) == x.size + int((x > 0).sum())
    assert sum(r.writes for r in runs) == x.size


def test_inputs_of_different_shapes_take_their_shape_from_the_kernels_inputs_rule():
    result = run(RunOptions(kernel=K["bias_add"], shape=(3, 70), buffer_size=32))
    assert result.correct
    assert [a["shape"] for a in result.to_dict()["inputs"]] == [[3, 70], [70]]


def test_an_input_given_by_name_overrides_the_default_shape(tmp_path):
    bias = rng_array((70,), 5)
    np.save(tmp_path / "bias.npy", bias)
    result = run(RunOptions(kernel=K["bias_add"], shape=(3, 70),
                            inputs={"bias": TensorInput(path=str(tmp_path / "bias.npy"))}))
    assert result.correct
    assert result.to_dict()["inputs"][1]["shape"] == [70]


def test_a_shape_function_that_rejects_the_inputs_is_one_line_naming_both_shapes():
    with pytest.raises(SimError, match=r"bias \[5\].*bias must be \[70\]") as info:
        run(RunOptions(kernel=K["bias_add"], shape=(3, 70),
                       inputs={"bias": TensorInput(shape=(5,))}))
    assert "\n" not in str(info.value)


def test_each_input_may_have_its_own_dtype(tmp_path):
    path = write(tmp_path, """
        import numpy as np
        from gpsimd_sim.api import float32, kernel, loop, zeros
        @loop
        def add_rows(a, b, out, n):
            for i in range(n):
                out[i] = a[i] + b[i]
        @kernel(reference=lambda a, b: (a + b.astype(np.float32)).astype(np.float32))
        def mixed(a, b):
            out = zeros(a.sizes(), float32)
            add_rows(a.accessor(1), b.accessor(1), out.accessor(1), a.numel())
            return out
    """)
    result = run(RunOptions(kernel=path, shape=(6,),
                            inputs={"b": TensorInput(shape=(6,), dtype="float16")}))
    assert result.correct
    assert [a["dtype"] for a in result.to_dict()["inputs"]] == ["float32", "float16"]


# -- scalars ----------------------------------------------------------------------------------

def test_scalar_parameters_take_their_defaults():
    x = rng_array((2, 50), 3) * 3
    result = gpsimd_sim.simulate(K["clamp_multicore"], x, cores=4)
    assert result.correct
    assert result.output.min() == -1.0 and result.output.max() == 1.0


def test_scalars_are_given_by_name():
    result = run(RunOptions(kernel=K["clamp_multicore"], shape=(2, 50), cores=3,
                            scalars={"lo": -0.25, "hi": 0.5}))
    assert result.correct
    assert result.output.min() == -0.25 and result.output.max() == 0.5
    assert [a.get("value") for a in result.to_dict()["inputs"]] == [None, -0.25, 0.5]


def test_an_int64_scalar_refuses_a_fraction(tmp_path):
    path = write(tmp_path, """
        from gpsimd_sim.api import kernel, mul
        @kernel(reference=lambda t, n: t * n)
        def scale(t_in, n: int):
            return mul(t_in, n)
    """)
    assert run(RunOptions(kernel=path, shape=(4,), scalars={"n": 3})).correct
    with pytest.raises(ConfigError, match="scalar n is an int64_t"):
        run(RunOptions(kernel=path, shape=(4,), scalars={"n": 1.5}))


def test_an_unknown_input_name_lists_the_parameters():
    with pytest.raises(ConfigError, match=r"no parameter 'low' \(its parameters: t_in, lo: "
                                          r"double, hi: double\)"):
        run(RunOptions(kernel=K["clamp_multicore"], scalars={"low": 1.0}))


def test_a_scalar_without_default_must_be_given(tmp_path):
    path = write(tmp_path, """
        from gpsimd_sim.api import kernel, mul
        @kernel(reference=lambda t, f: t * f)
        def scale(t_in, factor: float):
            return mul(t_in, factor)
    """)
    with pytest.raises(ConfigError, match="--scalar factor=VALUE"):
        run(RunOptions(kernel=path, shape=(4,)))


# -- references and tolerances ----------------------------------------------------------------

def test_a_reduction_passes_at_the_default_float32_tolerance():
    result = run(RunOptions(kernel=K["softmax_rows"], shape=(3, 300), buffer_size=128))
    assert result.correct and 0 < result.functional.max_abs_error < 1e-6


def test_a_tolerance_of_zero_reports_the_first_wrong_element_with_both_values():
    result = run(RunOptions(kernel=K["softmax_rows"], shape=(3, 300), buffer_size=128,
                            rtol=0.0, atol=0.0))
    check = result.to_dict()["check"]
    assert not result.correct
    index = tuple(check["first_wrong_index"])
    assert check["expected_value"] == pytest.approx(float(result.functional.expected[index]))
    assert check["actual_value"] == float(result.output[index])
    assert check["expected_value"] != check["actual_value"]


def test_tolerances_by_dtype_are_looser_for_narrower_floats():
    exp = np.array([1.0], np.float32)
    assert not compare(exp * np.float32(1.0001), exp).correct
    half = np.array([1.0], np.float16)
    assert compare(half * np.float16(1.0001), half).correct
    bf = np.array([1.0], ml_dtypes.bfloat16)
    assert compare(np.array([1.0078125], ml_dtypes.bfloat16), bf).correct


def test_a_kernel_without_reference_runs_and_says_its_output_was_not_checked(tmp_path):
    path = write(tmp_path, """
        from gpsimd_sim.api import kernel, abs
        @kernel()
        def magnitude(t_in):
            return abs(t_in)
    """)
    result = run(RunOptions(kernel=path, shape=(4, 4)))
    d = result.to_dict()
    assert d["checked"] is False and d["check"]["checked"] is False
    from gpsimd_sim.report.summary import format_run
    assert "NOT CHECKED" in format_run(d)


# -- the Python API -------------------------------------------------------------------------

def test_simulate_takes_a_kernel_function():
    from gpsimd_sim.api import kernel, abs
    @kernel(reference=np.abs)
    def magnitude(t_in):
        return abs(t_in)
    x = rng_array((8, 8))
    result = gpsimd_sim.simulate(magnitude, x)
    assert result.correct and result.simulated_ns > 0
    np.testing.assert_array_equal(result.output, np.abs(x))


def test_simulate_does_not_modify_its_arguments():
    x = rng_array((2, 50)) * 3
    before = x.copy()
    gpsimd_sim.simulate(K["clamp_multicore"], x, -0.1, 0.1, cores=2)
    np.testing.assert_array_equal(x, before)


def test_simulate_refuses_the_wrong_number_of_arguments_in_one_line():
    with pytest.raises(ConfigError, match="takes 2 arguments"):
        gpsimd_sim.simulate(K["relu_backward"], rng_array((2, 2)))


@pytest.mark.parametrize("kernel, arrays, scalars", [
    ("relu_backward", {"t_grad": (4, 33), "t_in": (4, 33)}, {}),
    ("bias_add", {"t_in": (3, 70), "bias": (70,)}, {}),
    ("clamp_multicore", {"t_in": (4, 33)}, {"lo": -0.5, "hi": 0.25}),
    ("softmax_rows", {"t_in": (3, 300)}, {}),
])
def test_simulate_gives_the_same_document_as_run_json(tmp_path, kernel, arrays, scalars):
    import subprocess, sys
    args, cli_args = [], []
    for i, (name, shape) in enumerate(arrays.items()):
        a = rng_array(shape, 10 + i)
        np.save(tmp_path / f"{name}.npy", a)
        args.append(a)
        cli_args += ["--input", f"{name}={tmp_path / f'{name}.npy'}"]
    for name, value in scalars.items():
        args.append(value)
        cli_args += ["--scalar", f"{name}={value}"]
    first = next(iter(arrays.values()))
    api = gpsimd_sim.simulate(f"kernels/{kernel}.py", *args).to_dict()
    proc = subprocess.run([sys.executable, "-m", "gpsimd_sim", "run", f"kernels/{kernel}.py",
                           *cli_args, "--shape", "x".join(map(str, first)), "--json",
                           "--no-band"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    cli = json.loads(proc.stdout)
    for d in (api, cli):
        d.pop("wall_s")
    assert api == cli


# -- device tensor ops ------------------------------------------------------------------------

def test_tensor_ops_compute_what_numpy_computes_and_are_timed(tmp_path):
    path = write(tmp_path, """
        import numpy as np
        from gpsimd_sim.api import kernel, add, exp, mul, clamp, empty, exp_out
        def ref(a, b):
            return np.clip(np.exp(a) + 2 * b, -1, 3).astype(np.float32)
        @kernel(reference=ref)
        def fused(a, b):
            e = empty(a.sizes())
            exp_out(e, a)
            return clamp(add(e, b, 2), -1.0, 3.0)
    """)
    result = run(RunOptions(kernel=path, shape=(4, 64)))
    assert result.correct
    ops = [r.op for r in result.functional.traces[0].records if type(r) is TensorOp]
    assert ops == ["exp", "add", "clamp"]
    assert result.to_dict()["per_core"][0]["tensor_op_ns"] > 0


def test_a_transcendental_tensor_op_costs_more_than_an_add(tmp_path):
    body = """
        from gpsimd_sim.api import kernel, {op}
        @kernel()
        def k(a):
            return {call}
    """
    add_k = write(tmp_path, body.format(op="add", call="add(a, a)"), "add.py")
    exp_k = write(tmp_path, body.format(op="exp", call="exp(a)"), "exp.py")
    t_add = run(RunOptions(kernel=add_k, shape=(64, 64))).to_dict()["per_core"][0]
    t_exp = run(RunOptions(kernel=exp_k, shape=(64, 64))).to_dict()["per_core"][0]
    assert t_exp["tensor_op_ns"] > t_add["tensor_op_ns"]


def test_tensor_ops_do_not_broadcast(tmp_path):
    path = write(tmp_path, """
        from gpsimd_sim.api import kernel, add
        @kernel(inputs=lambda s: {"a": s, "b": s[-1:]})
        def k(a, b):
            return add(a, b)
    """)
    with pytest.raises(KernelFault, match="do not broadcast"):
        run(RunOptions(kernel=path, shape=(2, 3)))


def test_bfloat16_inputs_run_through_tensor_ops(tmp_path):
    path = write(tmp_path, """
        import numpy as np
        from gpsimd_sim.api import kernel, mul
        @kernel(reference=lambda a: (a.astype(np.float32) * 2).astype(a.dtype))
        def double(a):
            return mul(a, 2.0)
    """)
    result = run(RunOptions(kernel=path, shape=(4, 8), dtype="bfloat16"))
    assert result.correct and result.output.dtype == ml_dtypes.bfloat16


# -- no escape hatches --------------------------------------------------------------------------

def test_a_kernel_cannot_touch_a_tensors_raw_data(tmp_path):
    path = write(tmp_path, """
        import numpy as np
        from gpsimd_sim.api import kernel
        @kernel(reference="relu")
        def cheat(t_in):
            t_in.data[...] = np.maximum(t_in.data, 0)
            return t_in
    """)
    with pytest.raises(KernelFault, match=r"k.py:6: core 0: tensor t_in.data"):
        run(RunOptions(kernel=path, shape=(4,)))


def test_a_core_touching_another_cores_tcm_buffer_is_reported(tmp_path):
    path = write(tmp_path, """
        from gpsimd_sim.api import (float32, get_cpu_id, get_dst_tensor, kernel, tcm_malloc)
        SHARED = []
        @kernel(reference="relu", multicore=True)
        def sneaky(t_in):
            if get_cpu_id() == 0:
                SHARED.append(tcm_malloc(64, float32))
            t_in.tcm_accessor().tensor_to_tcm(SHARED[0], 0, 4)
            return get_dst_tensor()
    """)
    with pytest.raises(KernelFault, match="core 1: tensor_to_tcm: TCM buffer 0 belongs to core 0"):
        run(RunOptions(kernel=path, shape=(8,), cores=2))


def test_a_tcm_buffer_indexed_outside_a_loop_is_refused(tmp_path):
    path = write(tmp_path, """
        from gpsimd_sim.api import float32, kernel, tcm_malloc
        @kernel(reference="relu")
        def k(t_in):
            buf = tcm_malloc(64, float32)
            buf[0] = 1.0
            return t_in
    """)
    with pytest.raises(KernelFault, match="indexed outside a @loop"):
        run(RunOptions(kernel=path, shape=(4,)))


def test_writing_into_a_const_input_is_refused(tmp_path):
    path = write(tmp_path, """
        from gpsimd_sim.api import kernel
        @kernel(reference="relu")
        def k(t_in):
            acc = t_in.accessor(1)
            acc[0] = 0.0
            return t_in
    """)
    with pytest.raises(KernelFault, match="const input tensor t_in"):
        run(RunOptions(kernel=path, shape=(4,)))
