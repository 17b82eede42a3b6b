"""Load hardware presets (TOML shipped in the package), apply overrides, report provenance.

A preset file has one table per section; every parameter is an inline table
``{ value = ..., source = "...", confidence = "H" | "M" | "L" | "assumed" | "fitted" }``,
optionally with its plausible range: ``low = ..., high = ...`` (a number) or
``alternatives = [...]`` (a mechanism; ``labels`` names them), the reason in ``range = "..."``
and, if it differs from the value's, ``range_source``; ``dist`` ("uniform", "log", "normal")
says how the ensemble draws from it (``load_ranges``; gpsimd_sim/uncertainty).
A preset may ``extends = "other"`` and state only what differs; a parameter it leaves out
takes its base's value, or the default declared in ``hardware.py`` with that default's
provenance. Fitted values live apart, in ``presets/fitted/<preset>.toml``, written by
``python -m gpsimd_sim calibrate``; a preset takes them only where it says whose fit it
uses (``fitted = "trn1"``), and they keep their provenance (which measurements, when,
residuals).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from .hardware import (DMA_ORGANISATIONS, SECTIONS, HardwareConfig, declared_default,
                       declared_range, field_of)

# "measured": fitted to the user's own microbenchmark measurements
# (gpsimd_sim.uncertainty.measured); it wins over the documented-point fit.
CONFIDENCES = ("H", "M", "L", "assumed", "fitted", "derived", "override", "measured")
RANGE_KEYS = ("low", "high", "alternatives", "labels", "range", "range_source", "dist")
DISTS = ("uniform", "log", "normal")
RETURN_COPIES = ("none", "single", "chunked")
_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def preset_dir() -> Path:
    return Path(str(resources.files("gpsimd_sim.config") / "presets"))


def available_presets() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.toml"))


def fitted_path(preset: str) -> Path:
    """The shipped fit of a preset (made by the project's own `calibrate`)."""
    return preset_dir() / "fitted" / f"{preset}.toml"


def user_config_dir() -> Path:
    """Where a user's own fits live: $GPSIMD_SIM_CONFIG_DIR or ~/.config/gpsimd_sim."""
    root = os.environ.get("GPSIMD_SIM_CONFIG_DIR")
    return Path(root) if root else Path.home() / ".config" / "gpsimd_sim"


def user_fitted_path(preset: str) -> Path:
    """A user's own `calibrate` fit of a preset; read before the shipped one."""
    return user_config_dir() / "fitted" / f"{preset}.toml"


def active_fitted_path(preset: str) -> Path:
    """The fit a preset that names ``preset``'s fit takes: the user's, else the shipped."""
    user = user_fitted_path(preset)
    return user if user.is_file() else fitted_path(preset)


def _field_index() -> dict[str, tuple[str, str]]:
    """Map both ``field`` and ``section.field`` to (section, field)."""
    index = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            index[f.name] = (section, f.name)
            index[f"{section}.{f.name}"] = (section, f.name)
    return index


FIELD_INDEX = _field_index()


def _coerce(raw, type_name: str, where: str):
    want = _TYPES[type_name]
    if want is str:
        if not isinstance(raw, str) or not raw:
            raise ConfigError(f"{where}: expected a name, got {raw!r}")
        return raw
    if want is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.lower() in ("true", "1", "yes")
        raise ConfigError(f"{where}: expected true or false, got {raw!r}")
    if isinstance(raw, bool):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    try:
        number = float(raw) if isinstance(raw, str) else raw
        if want is int and isinstance(number, float) and number.is_integer() is False:
            raise ConfigError(f"{where}: expected an integer, got {raw!r}")
        value = want(number)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: expected {type_name}, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{where}: expected a finite number, got {raw!r}")
    if value < 0:
        raise ConfigError(f"{where}: must not be negative, got {raw!r}")
    return value


def _read_toml(path: Path) -> dict:
    if path.exists() and not path.is_file():  # a FIFO would block the open for ever
        raise ConfigError(f"{path}: not a regular file (a preset is a TOML file)")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read preset: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8; tomllib decodes before parsing
        raise ConfigError(f"{path}: malformed TOML: not UTF-8 at byte {exc.start}") from None


def is_preset_file(preset: str) -> bool:
    """Whether ``--preset`` names a TOML file (a user's) rather than a shipped preset."""
    return preset.endswith(".toml") or "/" in preset


def _preset_path(preset: str) -> Path:
    """A preset by name (shipped) or by path (a user's TOML)."""
    if is_preset_file(preset):
        return Path(preset)
    path = preset_dir() / f"{preset}.toml"
    if not path.exists():
        raise ConfigError(f"--preset {preset!r}: unknown preset "
                          f"(available: {', '.join(available_presets())})")
    return path


def _merged(path: Path, seen: tuple = ()) -> dict:
    """A preset document with everything it ``extends`` filled in (the child wins)."""
    data = _read_toml(path)
    base_name = data.get("extends")
    if base_name is None:
        return data
    if not isinstance(base_name, str) or not base_name:
        raise ConfigError(f"{path}: 'extends' must name a preset")
    if path.resolve() in seen or len(seen) > 8:
        raise ConfigError(f"{path}: presets extend each other in a circle")
    base_path = _preset_path(base_name) if "/" not in base_name else path.parent / base_name
    base = _merged(base_path, seen + (path.resolve(),))
    out = {k: v for k, v in base.items() if k not in ("name", "fitted", "caveat")}
    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key != "extends":
            out[key] = value
    return out


def parse_preset(data: dict, where: str) -> tuple[dict, dict]:
    """Validate a preset document; return (values, provenance) keyed by section.field."""
    values, provenance = {}, {}
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: missing top-level 'name'")
    for key in data:
        if key not in SECTIONS and key not in ("name", "extends", "fitted", "caveat"):
            raise ConfigError(f"{where}: unknown top-level key '{key}'")
    for section, cls in SECTIONS.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        known = {f.name: f for f in fields(cls)}
        for key in table:
            if key not in known:
                raise ConfigError(f"{where}: [{section}] has unknown parameter '{key}'")
        for fname, f in known.items():
            entry = table.get(fname)
            at = f"{where}: [{section}] {fname}"
            if entry is None:
                default = declared_default(section, fname)
                if default is None:
                    raise ConfigError(f"{at}: missing")
                values[f"{section}.{fname}"], provenance[f"{section}.{fname}"] = default
                continue
            if not isinstance(entry, dict) or "value" not in entry:
                raise ConfigError(f"{at}: expected {{ value = ..., source = ..., confidence = ... }}")
            conf = entry.get("confidence")
            if conf not in CONFIDENCES:
                raise ConfigError(f"{at}: confidence must be one of {', '.join(CONFIDENCES)}, got {conf!r}")
            if not isinstance(entry.get("source"), str) or not entry["source"]:
                raise ConfigError(f"{at}: missing 'source'")
            values[f"{section}.{fname}"] = _coerce(entry["value"], f.type, at)
            provenance[f"{section}.{fname}"] = {"source": entry["source"], "confidence": conf}
            _check_range(entry, f.type, at, values[f"{section}.{fname}"])
    return values, provenance


def _check_range(entry: dict, type_name: str, at: str, value) -> dict | None:
    """The range keys of one entry (a preset's or a declared default's), validated and
    coerced to the parameter's type; None when it gives no range."""
    given = {k: entry[k] for k in RANGE_KEYS if k in entry}
    if not given:
        return None
    out: dict = {}
    has_bounds = "low" in given or "high" in given
    if has_bounds and "alternatives" in given:
        raise ConfigError(f"{at}: give low/high or alternatives, not both")
    if has_bounds:
        if "low" not in given or "high" not in given:
            raise ConfigError(f"{at}: a range needs both 'low' and 'high'")
        if type_name not in ("int", "float"):
            raise ConfigError(f"{at}: low/high need a number; a {type_name} takes "
                              "'alternatives'")
        low = _coerce(given["low"], type_name, f"{at}: low")
        high = _coerce(given["high"], type_name, f"{at}: high")
        if not low <= value <= high:
            raise ConfigError(f"{at}: value {value!r} outside its range {low!r} to {high!r}")
        out.update(low=low, high=high)
        dist = given.get("dist", "uniform" if low <= 0 or high / low < 2 else "log")
        if dist not in DISTS:
            raise ConfigError(f"{at}: dist must be one of {', '.join(DISTS)}, got {dist!r}")
        if dist == "log" and low <= 0:
            raise ConfigError(f"{at}: dist 'log' needs a positive low")
        out["dist"] = dist
    elif "alternatives" in given:
        alts = given["alternatives"]
        if not isinstance(alts, (list, tuple)) or not alts:
            raise ConfigError(f"{at}: 'alternatives' must be a non-empty list")
        alts = [_coerce(a, type_name, f"{at}: alternatives") for a in alts]
        if value not in alts:
            raise ConfigError(f"{at}: value {value!r} is not one of its alternatives {alts!r}")
        labels = given.get("labels", [])
        if labels and (not isinstance(labels, (list, tuple)) or len(labels) != len(alts)
                       or not all(isinstance(x, str) and x for x in labels)):
            raise ConfigError(f"{at}: 'labels' must name each alternative")
        out.update(alternatives=tuple(alts), labels=tuple(labels), dist="choice")
        if "dist" in given:
            raise ConfigError(f"{at}: 'dist' applies to low/high, not to alternatives")
    else:
        raise ConfigError(f"{at}: a range needs low and high, or alternatives")
    reason = given.get("range")
    if not isinstance(reason, str) or not reason:
        raise ConfigError(f"{at}: a range needs its reason in 'range = \"...\"'")
    out["range"] = reason
    if "range_source" in given:
        if not isinstance(given["range_source"], str) or not given["range_source"]:
            raise ConfigError(f"{at}: 'range_source' must be a sentence")
        out["range_source"] = given["range_source"]
    return out


@dataclass(frozen=True)
class ParamRange:
    """How far one parameter may plausibly be from the preset's value, and why.

    ``low``/``high`` for a number, ``alternatives`` for a mechanism (``dist`` "choice");
    ``dist`` says how the ensemble draws: "uniform", "log" (log-uniform) or "normal"
    (mean ``value``, 95% of it between ``low`` and ``high``: a measured value).
    """
    key: str                     # section.field
    value: object                # the point estimate (fitted and measured values included)
    type: str
    reason: str
    source: str
    confidence: str
    dist: str
    low: float | None = None
    high: float | None = None
    alternatives: tuple = ()
    labels: tuple = ()
    range_source: str | None = None

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    def to_dict(self) -> dict:
        out = {"value": self.value, "confidence": self.confidence, "dist": self.dist,
               "range": self.reason}
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
            if self.labels:
                out["labels"] = list(self.labels)
        else:
            out.update(low=self.low, high=self.high)
        if self.range_source:
            out["range_source"] = self.range_source
        return out


def _resolve(preset: str, use_fitted: bool) -> tuple[Path, dict, dict, dict]:
    """(path, merged document, values, provenance) of a preset; the fit it names applied
    when ``use_fitted`` (only where the preset says whose fit it takes: ``fitted = "trn1"``;
    a user's preset file never picks up a fit by its file name)."""
    path = _preset_path(preset)
    data = _merged(path)
    values, provenance = parse_preset(data, str(path))
    fitted = data.get("fitted")
    if fitted is not None and not isinstance(fitted, str):
        raise ConfigError(f"{path}: 'fitted' must name the preset whose fit it uses")
    if use_fitted and fitted:
        _apply_fitted(fitted, values, provenance)
    return path, data, values, provenance


def load_ranges(preset: str = "trn1", use_fitted: bool = True) -> dict[str, ParamRange]:
    """Every parameter of the resolved preset that states a plausible range (its own entry,
    or the declared default's), keyed ``section.field``, with the value a run uses."""
    path, data, values, provenance = _resolve(preset, use_fitted)
    out = {}
    for section, cls in SECTIONS.items():
        table = data.get(section, {})
        for f in fields(cls):
            key = f"{section}.{f.name}"
            entry = table.get(f.name)
            at = f"{path}: [{section}] {f.name}"
            if entry is None:
                raw = declared_range(section, f.name)
                rng = _check_range(raw, f.type, f"{at} (declared default)",
                                   values[key]) if raw else None
            else:
                rng = _check_range(entry, f.type, at, _coerce(entry["value"], f.type, at))
            if rng is None:
                continue
            out[key] = ParamRange(key=key, value=values[key], type=f.type, reason=rng["range"],
                                  source=provenance[key]["source"],
                                  confidence=provenance[key]["confidence"], dist=rng["dist"],
                                  low=rng.get("low"), high=rng.get("high"),
                                  alternatives=rng.get("alternatives", ()),
                                  labels=rng.get("labels", ()),
                                  range_source=rng.get("range_source"))
    return out


def preset_document_digest(preset: str = "trn1") -> str:
    """A digest of everything a preset resolves from: its file and those it extends, and the
    fit file it names (the ensemble cache's key, gpsimd_sim/uncertainty)."""
    import hashlib
    import json
    path = _preset_path(preset)
    data = _merged(path)
    parts = [json.dumps(data, sort_keys=True, default=str)]
    fitted = data.get("fitted")
    if isinstance(fitted, str) and fitted_path(fitted).exists():
        parts.append(fitted_path(fitted).read_text())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _apply_fitted(preset: str, values: dict, provenance: dict) -> None:
    path = active_fitted_path(preset)
    if not path.exists():
        return
    data = _read_toml(path)
    for key, entry in data.get("parameters", {}).items():
        if key not in FIELD_INDEX:
            raise ConfigError(f"{path}: unknown fitted parameter '{key}'")
        section, fname = FIELD_INDEX[key]
        full = f"{section}.{fname}"
        if provenance.get(full, {}).get("confidence") == "measured":
            continue  # the user's own measurement wins over the documented-point fit
        values[full] = _coerce(entry.get("value"), field_of(section, fname).type,
                               f"{path}: {key}")
        where = (f"your calibration, {path}" if path != fitted_path(preset)
                 else f"the shipped fit, presets/fitted/{path.name}")
        provenance[full] = {"source": f"{entry.get('source', 'fitted')} [{where}]",
                            "confidence": "fitted"}


def parse_override(text: str) -> tuple[str, str]:
    """Split ``key=value`` and resolve the key, or raise a one-line ConfigError."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected key=value")
    if key not in FIELD_INDEX:
        raise ConfigError(f"--set {text!r}: unknown parameter '{key}' (see docs/model.md)")
    section, fname = FIELD_INDEX[key]
    return f"{section}.{fname}", raw.strip()


def load_config(preset: str = "trn1", overrides: dict | list | None = None,
                use_fitted: bool = True) -> tuple[HardwareConfig, dict]:
    """Resolve a preset plus ``key=value`` overrides into (HardwareConfig, provenance);
    fitted values as ``_resolve`` applies them."""
    path, data, values, provenance = _resolve(preset, use_fitted)
    items = overrides.items() if isinstance(overrides, dict) else [parse_override(o) for o in overrides or []]
    for key, raw in items:
        if key not in FIELD_INDEX:
            raise ConfigError(f"--set {key}: unknown parameter")
        section, fname = FIELD_INDEX[key]
        full = f"{section}.{fname}"
        values[full] = _coerce(raw, field_of(section, fname).type, f"--set {key}")
        provenance[full] = {"source": "command-line override", "confidence": "override"}
    caveat = data.get("caveat", "")
    if not isinstance(caveat, str):
        raise ConfigError(f"{path}: 'caveat' must be a sentence")
    config = build_config(data["name"], values, caveat)
    return config, provenance


def build_config(name: str, values: dict, caveat: str = "") -> HardwareConfig:
    sections = {}
    for section, cls in SECTIONS.items():
        sections[section] = cls(**{f.name: values[f"{section}.{f.name}"] for f in fields(cls)})
    config = HardwareConfig(name=name, caveat=caveat, **sections)
    check_config(config)
    return config


def _RANGES(c: HardwareConfig) -> dict:
    """Plausible ranges: wide enough for what-if studies, narrow enough that a typo (a clock
    of 1e-300 Hz, a billion cores) is refused instead of exhausting time or memory. Only
    where the unit's range (``_UNIT_BOUNDS``) is missing or too wide: this table wins."""
    return {
        "cores": (c.core.cores, 1, 1024),
        "clock_hz": (c.core.clock_hz, 1e6, 1e12),
        "simd_lanes_32bit": (c.core.simd_lanes_32bit, 1, 4096),
        "issue_width_ops": (c.core.issue_width_ops, 1, 64),
        "dma_queues": (c.dma.dma_queues, 1, 4096),
        "dma_bytes_per_ns": (c.dma.dma_bytes_per_ns, 1e-3, 1e6),
        "hbm_bytes_per_ns": (c.memory.hbm_bytes_per_ns, 1e-3, 1e7),
        "tcm_bytes": (c.tcm.tcm_bytes, 64, 1 << 30),
        "dma_fixed_ns": (c.dma.dma_fixed_ns, 0, 1e9),
        "element_access_ns": (c.memory.element_access_ns, 0, 1e9),
    }


# Every numeric parameter not named in _RANGES gets a range from its unit: wide enough for
# any what-if, narrow enough that a zero rate (a division by zero later) or 1e300 cycles (an
# overflow later) is refused here, with the parameter's name.
_UNIT_BOUNDS = {
    "cycles": (0, 1e6), "ns": (0, 1e12), "B/ns": (1e-3, 1e9), "FLOP/ns": (1e-3, 1e9),
    "bytes": (0, 1 << 40), "bytes/cycle": (1, 4096), "bytes/param": (1, 16), "bytes/value": (1, 16),
    "count": (0, 4096), "fraction": (0, 1), "x": (0, 1e3),
}


def _UNIT_RANGES(c: HardwareConfig) -> dict:
    out = {}
    for section in SECTIONS:
        part = getattr(c, section)
        for f in fields(part):
            bounds = _UNIT_BOUNDS.get(f.metadata.get("unit"))
            value = getattr(part, f.name)
            if bounds and isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f.name] = (value, *bounds)
    return out


def check_config(c: HardwareConfig) -> None:
    """Reject configurations no hardware could have (zero clock, zero bandwidth, ...)."""
    positive = {
        "cores": c.core.cores, "clock_hz": c.core.clock_hz, "simd_lanes_32bit": c.core.simd_lanes_32bit,
        "issue_width_ops": c.core.issue_width_ops, "dma_queues": c.dma.dma_queues,
        "dma_bytes_per_ns": c.dma.dma_bytes_per_ns, "hbm_bytes_per_ns": c.memory.hbm_bytes_per_ns,
        "tcm_width_bytes": c.tcm.tcm_width_bytes,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}={value}: must be positive")
    for key, (value, low, high) in {**_UNIT_RANGES(c), **_RANGES(c)}.items():
        if not low <= value <= high:
            raise ConfigError(f"{key}={value:g}: outside what the model is meant for "
                              f"({low:g} to {high:g})")
    if c.dma.organisation not in DMA_ORGANISATIONS:
        raise ConfigError(f"organisation={c.dma.organisation!r}: unknown DMA organisation "
                          f"(known: {', '.join(DMA_ORGANISATIONS)})")
    if c.neuroncore.return_copy not in RETURN_COPIES:
        raise ConfigError(f"return_copy={c.neuroncore.return_copy!r}: unknown (known: "
                          f"{', '.join(RETURN_COPIES)})")
    if c.tcm.tcm_pool_bytes > c.tcm.tcm_bytes:
        raise ConfigError(f"tcm_pool_bytes={c.tcm.tcm_pool_bytes} exceeds tcm_bytes={c.tcm.tcm_bytes}")


def with_values(config: HardwareConfig, **changes) -> HardwareConfig:
    """A copy of ``config`` with some fields changed, by field name (bare or
    ``section.field``), checked."""
    by_section: dict = {}
    for key, value in changes.items():
        section, fname = FIELD_INDEX[key]
        by_section.setdefault(section, {})[fname] = value
    sections = {s: replace(getattr(config, s), **by_section[s]) if s in by_section
                else getattr(config, s) for s in SECTIONS}
    out = HardwareConfig(name=config.name, caveat=config.caveat, **sections)
    check_config(out)
    return out


def value_of(config: HardwareConfig, name: str):
    """A parameter's value in ``config``, by field name (bare or ``section.field``)."""
    section, fname = FIELD_INDEX[name]
    return getattr(getattr(config, section), fname)


def config_to_dict(config: HardwareConfig, provenance: dict | None = None) -> dict:
    """The resolved configuration as plain JSON: value, unit, source and confidence for each."""
    out: dict = {"preset": config.name, "caveat": config.caveat or None}
    for section, cls in SECTIONS.items():
        table = {}
        for f in fields(cls):
            entry = {"value": getattr(getattr(config, section), f.name), "unit": f.metadata["unit"]}
            if provenance and f"{section}.{f.name}" in provenance:
                entry.update(provenance[f"{section}.{f.name}"])
            table[f.name] = entry
        out[section] = table
    return out
