"""A kernel's arguments: tensors from shapes (seeded values), ``.npy`` files or arrays; scalars.

Every tensor parameter takes ``--shape``/``--dtype`` unless an ``--input NAME=...`` (or the
kernel's own ``inputs=`` rule, or an array passed to ``gpsimd_sim.simulate``) says
otherwise; every scalar takes ``--scalar NAME=VALUE`` or its default. Seeded values are
standard-normal in the input's dtype (integers: rounded multiples of 1/16, clipped), drawn
input by input from one generator, so the same seed gives the same bits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..api.dtypes import DTYPES, dtype_name
from ..errors import ConfigError
from .signature import Param, describe

# Tensor bytes (inputs and output together, checked apart: check_output) a run may hold: a typo in a shape must not take
# the machine's memory. 1 GiB: 2^28 float32 elements.
MAX_TENSOR_BYTES = 1 << 30


@dataclass(frozen=True)
class TensorInput:
    """How one tensor argument is made: a shape (and dtype) for seeded values, a ``.npy``
    file, or an array given in Python."""
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    path: str | None = None
    array: np.ndarray | None = None


def parse_shape(text: str, where: str) -> tuple[int, ...]:
    """``32x4096`` -> (32, 4096); a one-line error for anything else."""
    try:
        shape = tuple(int(p) for p in text.lower().replace("*", "x").split("x"))
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a shape like 32x4096") from None
    if not shape or any(s <= 0 for s in shape):
        raise ConfigError(f"{where}: {text!r}: every size must be positive")
    return shape


def parse_input(text: str) -> tuple[str, TensorInput]:
    """``NAME=32x4096``, ``NAME=32x4096:float16`` or ``NAME=file.npy``."""
    name, sep, spec = text.partition("=")
    where = f"--input {text}"
    if not sep or not name.strip() or not spec:
        raise ConfigError(f"{where}: expected NAME=SHAPE[:DTYPE] or NAME=FILE.npy")
    name = name.strip()
    if spec.endswith(".npy"):
        return name, TensorInput(path=spec)
    shape_text, _, dtype = spec.partition(":")
    if dtype and dtype not in DTYPES:
        raise ConfigError(f"{where}: unknown dtype {dtype!r} (expected one of "
                          f"{', '.join(DTYPES)})")
    return name, TensorInput(shape=parse_shape(shape_text, where), dtype=dtype or None)


def parse_scalar(text: str) -> tuple[str, object]:
    """``NAME=VALUE``: an int if it reads as one, else a float."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip() or not raw.strip():
        raise ConfigError(f"--scalar {text}: expected NAME=VALUE")
    raw = raw.strip()
    try:
        return name.strip(), int(raw)
    except ValueError:
        pass
    try:
        return name.strip(), float(raw)
    except ValueError:
        raise ConfigError(f"--scalar {text}: {raw!r} is not a number") from None


def load_npy(path: str, where: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{where}: {path}: no such .npy file")
    try:
        array = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ConfigError(f"{where}: {path}: not a readable .npy array ({exc})") from None
    return array


def check_array(array, where: str) -> np.ndarray:
    """A tensor argument as the simulator takes it: a contiguous array of a known dtype."""
    if not isinstance(array, np.ndarray):
        raise ConfigError(f"{where}: expected a NumPy array, got {type(array).__name__}")
    if dtype_name(array.dtype) is None:
        raise ConfigError(f"{where}: dtype {array.dtype} is not one the custom-operator API "
                          f"has ({', '.join(DTYPES)})")
    if array.ndim == 0 or array.size == 0:
        raise ConfigError(f"{where}: a tensor needs at least one element in at least one "
                          f"dimension, got shape {list(array.shape)}")
    return np.ascontiguousarray(array)


_CHUNK = 1 << 20   # values drawn at a time: the same stream as one draw, less memory


def seeded(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Standard-normal values in ``dtype`` (integers: rounded x16, clipped to the type).

    Drawn in float64 a chunk at a time and converted: the same values, bit for bit, as
    one float64 draw of the whole shape converted, in a fraction of the memory and time.
    """
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    out = np.empty(n, dtype=dtype)
    buf = np.empty(min(n, _CHUNK))
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    for start in range(0, n, _CHUNK):
        x = buf[:min(_CHUNK, n - start)]
        rng.standard_normal(out=x)
        if info is not None:
            x = np.clip(np.round(x * 16), info.min, info.max)
        out[start:start + x.size] = x
    return out.reshape(shape)


def make_inputs(count: int, shape: tuple[int, ...], dtype, seed: int) -> list[np.ndarray]:
    """``count`` seeded tensors of one shape and dtype (the single-shape case)."""
    rng = np.random.default_rng(seed)
    return [seeded(rng, shape, dtype) for _ in range(count)]


def _nbytes(shape, dtype) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


def check_output(args: list, shape, dtype, where: str) -> None:
    """The output counts against the memory cap too (inputs + output)."""
    total = sum(a.nbytes for a in args if isinstance(a, np.ndarray)) + _nbytes(shape, dtype)
    if total > MAX_TENSOR_BYTES:
        raise ConfigError(f"{where}: the inputs and the output of shape "
                          f"{'x'.join(map(str, shape))} need {total:,} bytes, more than the "
                          f"{MAX_TENSOR_BYTES:,} a run may hold")


def build_args(params: list[Param], where: str, shape: tuple[int, ...], dtype: str,
               tensors: dict[str, TensorInput], scalars: dict[str, object], seed: int,
               shape_rule=None) -> list:
    """The kernel's arguments in parameter order; every problem is one ConfigError line.

    ``shape_rule`` is the kernel's ``inputs=`` function: from ``--shape`` to each tensor's
    default shape (or (shape, dtype)), for kernels whose inputs differ in shape.
    """
    names = {p.name for p in params}
    for name in list(tensors) + list(scalars):
        if name not in names:
            raise ConfigError(f"{where}: the kernel has no parameter {name!r} "
                              f"(its parameters: {describe(params)})")
    for name in tensors:
        if not next(p for p in params if p.name == name).is_tensor:
            raise ConfigError(f"{where}: {name} is a scalar: give it with --scalar {name}=VALUE")
    for name in scalars:
        if next(p for p in params if p.name == name).is_tensor:
            raise ConfigError(f"{where}: {name} is a tensor: give it with --input {name}=...")
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype}: expected one of {', '.join(DTYPES)}")
    defaults = {}
    if shape_rule is not None:
        try:
            defaults = dict(shape_rule(tuple(shape)))
        except Exception as exc:  # noqa: BLE001 - the kernel's own rule failed
            raise ConfigError(f"{where}: the kernel's inputs= rule failed for --shape "
                              f"{'x'.join(map(str, shape))}: {type(exc).__name__}: {exc}"
                              ) from None
    rng = np.random.default_rng(seed)
    total = 0
    args = []
    for p in params:
        if not p.is_tensor:
            if p.name in scalars:
                args.append(p.coerce(scalars[p.name], where))
            elif p.has_default:
                args.append(p.coerce(p.default, where))
            else:
                raise ConfigError(f"{where}: scalar {p.name} has no default: give it with "
                                  f"--scalar {p.name}=VALUE")
            continue
        spec = tensors.get(p.name, TensorInput())
        at = f"{where}: input {p.name}"
        if spec.array is not None or spec.path is not None:
            array = spec.array if spec.array is not None else load_npy(spec.path, at)
            array = check_array(array, at)
            total += array.nbytes
            _check_total(total, at)
            args.append(array)
            continue
        rule = defaults.get(p.name)
        rule_shape, rule_dtype = (rule if isinstance(rule, tuple) and len(rule) == 2
                                  and isinstance(rule[0], (tuple, list)) else (rule, None))
        if rule_dtype is not None and not isinstance(rule_dtype, str):
            rule_dtype = dtype_name(rule_dtype)  # np.float16 as well as "float16"
            if rule_dtype is None:
                raise ConfigError(f"{at}: the kernel's inputs= rule gives a dtype the API "
                                  "does not have")
        try:
            want_shape = spec.shape or (tuple(int(s) for s in rule_shape) if rule_shape
                                        else tuple(shape))
        except (TypeError, ValueError):
            raise ConfigError(f"{at}: the kernel's inputs= rule gives {rule!r}, not a shape"
                              ) from None
        want_dtype = spec.dtype or rule_dtype or dtype
        total += _nbytes(want_shape, DTYPES[want_dtype])
        _check_total(total, at, want_shape)
        args.append(seeded(rng, want_shape, DTYPES[want_dtype]))
    return args


def _check_total(total: int, where: str, shape=None) -> None:
    if total > MAX_TENSOR_BYTES:
        what = f" of shape {'x'.join(map(str, shape))}" if shape else ""
        raise ConfigError(f"{where}{what}: the inputs need {total:,} bytes, more than the "
                          f"{MAX_TENSOR_BYTES:,} a run may hold")
