"""The sweep's result files: results.json and results.csv, written atomically as points finish.

results.json is the source of truth (the CSV is the same rows for spreadsheets and pandas).
Run again with the same folder and the rows found there are kept; only missing points run.
"""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from ..errors import ConfigError
from ..report.output import to_json, write_atomic
from .grid import SWEEP_SCHEMA_VERSION, SweepSpec
from .point import columns


def _normalised(obj):
    """As it reads back from JSON (tuples become lists)."""
    return json.loads(to_json(obj))


class ResultStore:
    """The rows finished so far, keyed by point, and their files in ``out``."""

    def __init__(self, out: str | Path, spec: SweepSpec, config: dict | None = None,
                 save_interval_s: float = 0.5):
        self.out = Path(out)
        self.json_path = self.out / "results.json"
        self.csv_path = self.out / "results.csv"
        self.spec = spec
        self.config = config
        self.settings = _normalised(spec.settings())
        self.rows: dict[str, dict] = {}
        self.save_interval_s = save_interval_s
        self._saved_at = 0.0
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {out}: exists and is not a folder")
        self._load()

    def _load(self) -> None:
        if not self.json_path.exists():
            return
        where = str(self.json_path)
        try:
            data = json.loads(self.json_path.read_text())
            version, settings, rows = data["schema_version"], data["sweep"], data["rows"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{where}: not a sweep result file ({type(exc).__name__}: {exc}); "
                              "choose another --out or delete it") from None
        if version != SWEEP_SCHEMA_VERSION:
            raise ConfigError(f"{where}: schema version {version}, this gpsimd_sim writes "
                              f"{SWEEP_SCHEMA_VERSION}; choose another --out or delete it")
        for key, value in self.settings.items():
            if settings.get(key) != value:
                what = "the kernel file changed since" if key == "kernel_sha256" else \
                    f"{key} was {settings.get(key)!r} in"
                raise ConfigError(f"{where}: {what} that sweep (now {value!r}); to resume, "
                                  "use the same settings, or choose another --out")
        if not isinstance(rows, list) or not all(
                isinstance(r, dict) and isinstance(r.get("point"), str) and "status" in r
                for r in rows):
            raise ConfigError(f"{where}: damaged (its rows are not sweep rows); delete the "
                              "file to run the sweep again, or choose another --out")
        self.rows = {row["point"]: row for row in rows}

    def __contains__(self, key: str) -> bool:
        """A point is done when its row holds a deterministic outcome (a timeout, a dead
        worker or an internal error is run again)."""
        row = self.rows.get(key)
        return row is not None and not row.get("retry")

    def add(self, row: dict) -> None:
        """Record a finished point and save, at most every ``save_interval_s`` seconds."""
        self.rows[row["point"]] = row
        if time.monotonic() - self._saved_at >= self.save_interval_s:
            self.save()

    def ordered_rows(self) -> list[dict]:
        """Rows of the current grid in grid order, then any kept from a larger earlier grid."""
        order = {p.key: i for i, p in enumerate(self.spec.points())}
        return sorted(self.rows.values(), key=lambda r: (order.get(r["point"], len(order)),
                                                         r["point"]))

    def save(self) -> None:
        """Write both files atomically (a reader never sees half a file)."""
        rows = self.ordered_rows()
        doc = {"schema_version": SWEEP_SCHEMA_VERSION, "sweep": self.settings,
               "grid": {"buffer_size": list(self.spec.buffer_sizes), "cores": list(self.spec.cores),
                        **{n: list(v) for n, v in self.spec.sweep_sets}},
               "rows": rows}
        if self.config is not None:
            doc["config"] = self.config
        write_atomic(self.json_path, to_json(doc))
        write_atomic(self.csv_path, to_csv(rows, columns(self.spec)))
        self._saved_at = time.monotonic()


def to_csv(rows: list[dict], cols: list[str]) -> str:
    """Long-format CSV: one row per point, empty cells for missing values."""
    extra = [k for r in rows for k in r if k not in cols]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols + list(dict.fromkeys(extra)),
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()
