"""Options shared by the subcommands, and their parsing into one-line errors."""
from __future__ import annotations

import argparse

from ..errors import ConfigError


def parse_shape(text: str) -> tuple[int, ...]:
    """``32x4096`` -> (32, 4096)."""
    try:
        shape = tuple(int(p) for p in text.lower().replace("*", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected sizes like 32x4096") from None
    if not shape or any(s <= 0 for s in shape):
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be positive")
    return shape


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a non-negative integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a non-negative integer")
    return value


MAX_TIMEOUT_S = 1e6   # about 11 days: anything longer is a typo, and overflows timers


def timeout_seconds(text: str) -> float:
    value = positive_float(text)
    if value > MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_TIMEOUT_S:g} seconds")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number >= 0") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number >= 0")
    return value


def add_hardware_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="trn1",
                   help="hardware preset: trn1 (default), inf2, or a path to a preset TOML")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one preset parameter, e.g. --set dma_bytes_per_ns=54.4 "
                        "(repeatable; see docs/model.md)")


def add_kernel_options(p: argparse.ArgumentParser, default_shape=(32, 4096)) -> None:
    p.add_argument("--cores", type=positive_int, default=None,
                   help="GPSIMD cores for a multicore kernel (default: all of the preset's)")
    p.add_argument("--buffer-size", type=positive_int, default=None,
                   help="override the kernel's BUFFER_SIZE constant (elements)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the standard-normal inputs (default 0)")


def preset_file(preset: str) -> str | None:
    """``--preset`` when it names a TOML file (an input no output may replace), else None."""
    from ..config.presets import is_preset_file
    return preset if is_preset_file(preset) else None


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def add_band_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-band", dest="band", action="store_false",
                   help="skip the error band (the ensemble of plausible parameters and "
                        "mechanisms, each refitted: docs/calibration.md)")
    p.add_argument("--band-members", type=positive_int, default=None, metavar="N",
                   help="ensemble members behind the band (default 100)")
    p.add_argument("--band-seed", type=non_negative_int, default=0, metavar="SEED",
                   help="seed of the ensemble's draws (default 0): the same seed, the same band")
