"""A kernel's parameters: which are tensors and which are scalars, as its signature says.

C++ marks a scalar argument by its type (``double``, ``int64_t``, ``c10::Scalar``); a
Python kernel marks it by its annotation (``factor: float``, ``n: int``). Anything else is
a tensor. Both front ends describe their parameters with ``Param``; binding the user's
inputs to them (``inputs.py``) and calling the reference go by these.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

# kind -> what the C++ signature calls it, and the Python annotation that marks it
SCALAR_KINDS = {"double": "double", "int64": "int64_t", "scalar": "c10::Scalar"}
TENSOR = "tensor"


@dataclass(frozen=True)
class Param:
    """One parameter of a kernel: a tensor, or a scalar of a C++ kind."""
    name: str
    kind: str                  # "tensor", "double", "int64" or "scalar"
    default: object = inspect.Parameter.empty

    @property
    def is_tensor(self) -> bool:
        return self.kind == TENSOR

    @property
    def has_default(self) -> bool:
        return self.default is not inspect.Parameter.empty

    def coerce(self, value, where: str):
        """A scalar argument as the C++ type would take it; a one-line error otherwise."""
        from ..errors import ConfigError
        if self.kind == "int64":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                if isinstance(value, (float, np.floating)) and float(value).is_integer():
                    value = int(value)
                else:
                    raise ConfigError(f"{where}: scalar {self.name} is an int64_t, got "
                                      f"{value!r}")
            value = int(value)
            if not -2**63 <= value < 2**63:
                raise ConfigError(f"{where}: scalar {self.name}={value} does not fit int64_t")
            return value
        if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)):
            raise ConfigError(f"{where}: scalar {self.name} is a {SCALAR_KINDS[self.kind]}, "
                              f"got {value!r}")
        value = float(value) if self.kind == "double" or isinstance(
            value, (float, np.floating)) else int(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{where}: scalar {self.name} must be finite, got {value!r}")
        return value


_ANNOTATIONS = {"float": "double", "int": "int64", "double": "double", "int64": "int64",
                "int64_t": "int64", "Scalar": "scalar", "Tensor": TENSOR}


def python_params(fn) -> list[Param]:
    """The parameters of a Python kernel function, scalars marked by annotation."""
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise TypeError(f"parameter {p.name}: *args, **kwargs and keyword-only "
                            "parameters are not kernel arguments")
        ann = p.annotation
        if ann is p.empty:
            kind = TENSOR
        else:
            name = ann.strip("'\" ") if isinstance(ann, str) else getattr(ann, "__name__", "")
            kind = _ANNOTATIONS.get(name.rsplit(".", 1)[-1])
            if kind is None:
                raise TypeError(f"parameter {p.name}: annotation {ann!r} is not a kernel "
                                "argument kind (float for a double, int for an int64_t, "
                                "Scalar, or none for a tensor)")
        out.append(Param(p.name, kind, p.default))
    return out


def describe(params: list[Param]) -> str:
    """``t_in, lo: double, hi: double`` for messages."""
    return ", ".join(p.name if p.is_tensor else f"{p.name}: {SCALAR_KINDS[p.kind]}"
                     for p in params)


@dataclass(frozen=True)
class TensorSpec:
    """What a shape function sees of a tensor: its sizes and dtype (no data), and what it
    returns for the output."""
    shape: tuple[int, ...]
    dtype: object

    def sizes(self) -> tuple[int, ...]:
        return self.shape

    def numel(self) -> int:
        return math.prod(self.shape)

    def dim(self) -> int:
        return len(self.shape)
