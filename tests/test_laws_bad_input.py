"""Bad-input laws: malformed presets, option values and kernel files end in one clear line on
stderr and a non-zero exit -- never a traceback, never a hang.

Everything goes through ``gpsimd_sim.cli.main`` in-process, as a user's command would.
"""
import contextlib
import io
import re

import pytest
from conftest import KERNELS
from hypothesis import given, settings
from hypothesis import strategies as st

from gpsimd_sim.cli import main
from gpsimd_sim.config.presets import FIELD_INDEX, preset_dir

# Keep every run small and bounded: a malformed input must fail fast, not by exhaustion.
LIMITS = ["--max-steps", "2000", "--max-iterations", "100000", "--timeout", "0.2"]
TRN1 = (preset_dir() / "trn1.toml").read_text()


def cli(*argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``python -m gpsimd_sim ARGV``, run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse refusing an option
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_refused_in_one_line(code, err):
    assert code not in (0, None), "a bad input must not succeed"
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.match(r"gpsimd_sim( \w+)?: error: \S", lines[0]), lines[0]
    assert "Traceback" not in err


def assert_clean_outcome(code, err):
    """Either it ran (0, or 1 for a wrong output) silently, or it was refused in one line."""
    if code in (0, 1):
        assert err == ""
    else:
        assert_refused_in_one_line(code, err)


# -- presets ---------------------------------------------------------------------------------
WRONG_VALUES = ["-1", "0", "-0.5", "nan", "inf", "1e999", '"fast"', "[1, 2]", "true", "{}",
                "1979-05-27", '""']


@st.composite
def malformed_presets(draw) -> bytes:
    """trn1.toml with 1-3 mutations: a line dropped, a value of the wrong type or sign,
    garbage bytes spliced in, or the file cut short."""
    lines = TRN1.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["drop", "value", "garbage", "truncate"]))
        if kind == "drop":
            del lines[i]
        elif kind == "value" and "value = " in lines[i]:
            lines[i] = re.sub(r"value = [^,]+,", f"value = {draw(st.sampled_from(WRONG_VALUES))},",
                              lines[i], count=1)
        elif kind == "garbage":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(st.binary(min_size=1, max_size=8)).decode("latin-1")
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        else:
            lines = lines[:i + 1]
            lines[-1] = lines[-1][:draw(st.integers(0, len(lines[-1])))]
        if not lines:
            break
    # latin-1 round-trips the spliced bytes, so non-UTF-8 garbage reaches the parser as is
    text = "".join(lines)
    return text.encode("utf-8") if text.isascii() else text.encode("latin-1")


@given(preset=malformed_presets())
def test_a_malformed_preset_is_refused_in_one_line(tmp_path_factory, preset):
    path = tmp_path_factory.mktemp("preset") / "mutant.toml"
    path.write_bytes(preset)
    code, _, err = cli("run", KERNELS["tcm"], "--shape", "4x4", "--preset", str(path), *LIMITS)
    if preset.decode("latin-1") != TRN1:
        assert_clean_outcome(code, err)  # a mutation may leave a valid preset (a comment)


@given(value=st.sampled_from(WRONG_VALUES[:6]), key=st.sampled_from(
    ["clock_hz", "dma_bytes_per_ns", "hbm_bytes_per_ns", "cores", "dma_queues"]))
def test_a_preset_value_of_the_wrong_sign_or_kind_is_refused(tmp_path_factory, key, value):
    path = tmp_path_factory.mktemp("preset") / "mutant.toml"
    path.write_text(re.sub(rf"^{key} = {{ value = [^,]+,", f"{key} = {{ value = {value},",
                           TRN1, flags=re.M))
    code, _, err = cli("run", KERNELS["tcm"], "--shape", "4x4", "--preset", str(path))
    assert_refused_in_one_line(code, err)


# -- option values ---------------------------------------------------------------------------
OPTIONS = {  # option -> the kernel it is tried on
    "--shape": "tcm", "--cores": "multicore", "--buffer-size": "tcm", "--set": "tcm",
    "--seed": "tcm", "--dtype": "elementwise",
}
any_text = st.text(max_size=8) | st.text(alphabet="0123456789x*-+.e_= ", max_size=6)
keyed_text = st.tuples(st.sampled_from(sorted(FIELD_INDEX)), any_text).map("=".join)


@pytest.mark.parametrize("option", sorted(OPTIONS))
@given(value=any_text | keyed_text)
def test_any_option_value_runs_or_is_refused_in_one_line(option, value):
    code, _, err = cli("run", KERNELS[OPTIONS[option]], "--shape=4x4", f"{option}={value}",
                       *LIMITS)
    assert_clean_outcome(code, err)


not_a_number = st.text(alphabet="abcdefghijklmnopqrstuvwyz!?:/", min_size=1, max_size=6)
invalid = {
    "--shape": not_a_number | st.integers(-100, 0).map(str)
    | st.tuples(st.integers(1, 9), st.integers(-9, 0)).map(lambda t: f"{t[0]}x{t[1]}"),
    "--cores": not_a_number | st.integers(-100, 0).map(str) | st.integers(9, 10**6).map(str),
    "--buffer-size": not_a_number | st.integers(-10**6, 0).map(str),
    "--set": not_a_number | st.tuples(not_a_number, any_text).map("=".join)
    | st.tuples(st.sampled_from(["clock_hz", "dma_bytes_per_ns", "cores"]),
                st.sampled_from(["0", "-1", "nan", "inf", "x", ""])).map("=".join),
    "--seed": not_a_number | st.integers(-10**6, -1).map(str),
    "--dtype": not_a_number,
}


@pytest.mark.parametrize("option", sorted(invalid))
@given(data=st.data())
def test_an_invalid_option_value_is_refused_in_one_line(option, data):
    value = data.draw(invalid[option], label="value")
    code, _, err = cli("run", KERNELS[OPTIONS[option]], "--shape=4x4", f"{option}={value}",
                       *LIMITS)
    assert_refused_in_one_line(code, err)


# -- kernel files ----------------------------------------------------------------------------
HEADER = "from gpsimd_sim.api import float32, kernel, loop, tcm_malloc, zeros\n"
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
messages = st.text(alphabet="abcdefghij klmnop\n\"'\\", max_size=12)


MISTAKES = ["garbage", "text", "no_kernel", "raise_at_import", "import_missing",
            "exit_at_import", "two_kernels", "raise_in_kernel", "steps_forever", "loop_forever",
            "python_forever", "returns_none", "wrong_arity"]


@st.composite
def broken_kernels(draw, body: str) -> bytes:
    """A kernel file with the mistake ``body``, in a form the loader or the run must notice."""
    name, msg = draw(identifiers), draw(messages)
    source = {
        "garbage": None,
        "text": None,
        "no_kernel": f"{name} = 1\ndef f(t_in):\n    return t_in\n",
        "raise_at_import": f"raise ValueError({msg!r})\n",
        "import_missing": f"import gpsimd_missing_{name}\n",
        "exit_at_import": "import sys\nsys.exit(3)\n",
        "two_kernels": "@kernel()\ndef a(t_in):\n    return t_in\n"
                       "@kernel()\ndef b(t_in):\n    return t_in\n",
        "raise_in_kernel": f"@kernel()\ndef {name}(t_in):\n    raise KeyError({msg!r})\n",
        "steps_forever": f"@kernel()\ndef {name}(t_in):\n    while True:\n"
                         "        t_in.tcm_accessor()\n",
        "loop_forever": "@loop\ndef spin(buf):\n    while True:\n        buf[0] = buf[0] + 1.0\n"
                        f"@kernel()\ndef {name}(t_in):\n"
                        "    spin(tcm_malloc(64, float32))\n    return t_in\n",
        "python_forever": f"@kernel()\ndef {name}(t_in):\n    while True:\n        pass\n",
        "returns_none": f"@kernel()\ndef {name}(t_in):\n    zeros(t_in.sizes())\n",
        "wrong_arity": f"@kernel(reference=\"relu\")\ndef {name}(a, b, c):\n    return a\n",
    }[body]
    if body == "garbage":
        return draw(st.binary(max_size=64))
    if body == "text":
        return draw(st.text(max_size=64)).encode("utf-8", "surrogatepass")
    return (HEADER + source).encode()


@pytest.mark.parametrize("mistake", MISTAKES)
@given(data=st.data())
@settings(max_examples=max(3, settings().max_examples // 5))  # 13 mistakes, some time out
def test_a_broken_kernel_file_is_refused_in_one_line(tmp_path_factory, mistake, data):
    """Import-time infinite loops are left out: nothing bounds the import of a kernel file."""
    source = data.draw(broken_kernels(mistake), label="source")
    path = tmp_path_factory.mktemp("kernel") / "broken.py"
    path.write_bytes(source)
    code, _, err = cli("run", str(path), "--shape", "4x4", *LIMITS)
    assert_refused_in_one_line(code, err)
