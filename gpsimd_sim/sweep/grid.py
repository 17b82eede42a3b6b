"""What a sweep covers: its fixed settings and the grid of points, parsed from the flags.

Every bad option is found here, before anything runs, and reported in one line.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from ..api.tensor import DTYPES
from ..config.presets import FIELD_INDEX, load_config
from ..errors import ConfigError
from ..frontend import load as load_kernel
from ..simulation import check_shape
from ..workload.run import load_model, resolve_path

SWEEP_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Point:
    """One combination of the swept values."""
    buffer_size: int | None
    cores: int
    sets: tuple[tuple[str, str], ...] = ()   # (parameter, value as typed) per --sweep-set

    @property
    def key(self) -> str:
        """Stable identity of the point within its sweep (how resume finds finished points)."""
        parts = [f"buffer_size={self.buffer_size if self.buffer_size is not None else '-'}",
                 f"cores={self.cores}"]
        parts += [f"{name}={value}" for name, value in self.sets]
        return " ".join(parts)


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep: the settings every point shares and the values swept."""
    kernel: str                      # as the user typed it (for tables and messages)
    kernel_file: str                 # absolute path the points load
    kernel_sha256: str
    multicore: bool
    buffer_sizes: tuple              # ints, or (None,) for a kernel without BUFFER_SIZE
    cores: tuple[int, ...]
    shape: tuple[int, ...] | None    # None with --mlp: the model sets the shapes
    mlp: bool = False
    model: str | None = None
    preset: str = "trn1"
    overrides: tuple[str, ...] = ()
    sweep_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (parameter, values)
    seed: int = 0
    dtype: str = "float32"
    timeout_s: float | None = 600.0
    band: bool = True                # each point with its error band (uncertainty/)
    band_members: int | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def set_names(self) -> list[str]:
        return [name for name, _ in self.sweep_sets]

    def points(self) -> list[Point]:
        """Every combination, sweep-set values outermost, then buffer size, then cores."""
        set_axes = [[(name, v) for v in values] for name, values in self.sweep_sets]
        return [Point(b, c, tuple(sets))
                for sets in itertools.product(*set_axes)
                for b in self.buffer_sizes for c in self.cores]

    def settings(self) -> dict:
        """What every point shares: a resumed sweep must match these exactly."""
        return {"kernel": self.kernel, "kernel_sha256": self.kernel_sha256,
                "mode": "mlp" if self.mlp else "kernel", "model": self.model,
                "shape": list(self.shape) if self.shape else None, "dtype": self.dtype,
                "preset": self.preset, "overrides": list(self.overrides),
                "swept_parameters": self.set_names, "seed": self.seed,
                "band": self.band, "band_members": self.band_members}


def parse_buffer_sizes(text: str) -> tuple[int, ...]:
    """``64,128,256`` -> (64, 128, 256): positive element counts, in the order given."""
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise ConfigError(f"--buffer-size {text}: {part!r} is not a whole number of "
                              "elements (expected e.g. 64,128,256)") from None
        if value <= 0:
            raise ConfigError(f"--buffer-size {text}: {value} is not a positive number of elements")
        if value not in values:
            values.append(value)
    return tuple(values)


def parse_cores(text: str, available: int, preset: str) -> tuple[int, ...]:
    """``1-8``, ``1,2,4,8`` or ``1-4,8`` -> sorted core counts within the preset's."""
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if dash else (int(part), int(part))
        except ValueError:
            raise ConfigError(f"--cores {text}: {part!r} is not a core count or a range "
                              "like 1-8") from None
        if first < 1:
            raise ConfigError(f"--cores {text}: core counts start at 1")
        if last < first:
            raise ConfigError(f"--cores {text}: the range {part} runs backwards")
        if last > available:
            raise ConfigError(f"--cores {text}: the {preset} preset has {available} GPSIMD cores")
        values.update(range(first, last + 1))
    return tuple(sorted(values))


def parse_sweep_set(text: str, preset: str, overrides: list[str]) -> tuple[str, tuple[str, ...]]:
    """``dma_bytes_per_ns=13.6,27.2`` -> ("dma_bytes_per_ns", ("13.6", "27.2")), each value
    checked by resolving the preset with it."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ConfigError(f"--sweep-set {text!r}: expected key=value,value,...")
    key = key.strip()
    if key not in FIELD_INDEX:
        raise ConfigError(f"--sweep-set {text!r}: unknown parameter '{key}' (see docs/model.md)")
    section, name = FIELD_INDEX[key]
    full = f"{section}.{name}"
    if full == "core.cores":
        raise ConfigError(f"--sweep-set {text!r}: sweep core counts with --cores")
    values = []
    for value in (v.strip() for v in raw.split(",")):
        if not value:
            raise ConfigError(f"--sweep-set {text!r}: empty value")
        try:
            load_config(preset, overrides + [f"{full}={value}"])
        except ConfigError as exc:
            raise ConfigError(f"--sweep-set {text!r}: {exc}") from None
        if value not in values:
            values.append(value)
    return name, tuple(values)


def build_spec(kernel: str, buffer_sizes: str | None = None, cores: str | None = None,
               shape=None, mlp: bool = False, model: str = "models/mlp.py",
               preset: str = "trn1", overrides=(), sweep_sets=(), seed: int = 0,
               dtype: str = "float32", timeout_s: float | None = 600.0, band: bool = True,
               band_members: int | None = None) -> SweepSpec:
    """Check every option and load (compile) the kernel once; raise ConfigError on a bad one."""
    overrides = list(overrides)
    config, _ = load_config(preset, overrides)
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype}: expected one of {', '.join(DTYPES)}")
    if mlp and shape is not None:
        raise ConfigError("--shape does not apply with --mlp: the model sets the activations' shapes")
    if mlp:
        load_model(model)        # a missing or broken model is an option error, not 1 per point
    shape = None if mlp else check_shape(shape if shape is not None else (32, 4096))
    sets, seen = [], set()
    for text in sweep_sets:
        name, values = parse_sweep_set(text, preset, overrides)
        if name in seen:
            raise ConfigError(f"--sweep-set {text!r}: {name} is swept twice")
        seen.add(name)
        sets.append((name, values))
    path = resolve_path(kernel)
    loaded = load_kernel(path)
    notes = []
    available = config.core.cores
    core_counts = parse_cores(cores, available, preset) if cores else tuple(range(1, available + 1))
    if not loaded.multicore:
        # What a user sweeping cores on a single-core kernel wants is its one-core curve, not
        # seven identical error rows: the core axis collapses to 1 and we say so.
        if core_counts != (1,) and cores:
            notes.append(f"{kernel} is a single-core kernel (@kernel(multicore=False)): "
                         "it runs on 1 core, so only cores=1 is swept")
        core_counts = (1,)
    if buffer_sizes:
        sizes = parse_buffer_sizes(buffer_sizes)
        if loaded.default_buffer_size is None:
            raise ConfigError(f"--buffer-size {buffer_sizes}: {kernel} has no BUFFER_SIZE constant")
    else:
        sizes = (loaded.default_buffer_size,)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return SweepSpec(kernel=kernel, kernel_file=str(Path(path).resolve()), kernel_sha256=digest,
                     multicore=loaded.multicore, buffer_sizes=sizes, cores=core_counts,
                     shape=shape, mlp=mlp, model=model if mlp else None, preset=preset,
                     overrides=tuple(overrides), sweep_sets=tuple(sets), seed=seed, dtype=dtype,
                     timeout_s=timeout_s, band=band, band_members=band_members,
                     notes=tuple(notes))
