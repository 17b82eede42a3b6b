"""The benchmark protocol behind a documented throughput (how the script timed its loop)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    """``customop_mlp/inference.py``: the last epoch, clock restarted after the warm-up steps,
    ``interval = idx - WARMUP_STEPS`` steps claimed although one more ran."""
    dataset_size: int = 10_000   # MNIST test split
    batch: int = 32
    warmup_steps: int = 2

    def batches(self) -> list[int]:
        """Batch sizes of one epoch, in order (the last one short)."""
        full, tail = divmod(self.dataset_size, self.batch)
        return [self.batch] * full + ([tail] if tail else [])

    def timed_batches(self) -> list[int]:
        """Batches whose time the script's clock covers: every step after the warm-up."""
        return self.batches()[self.warmup_steps:]

    def step_batches(self) -> list[int]:
        """The distinct batch sizes a run simulates one step of (the timed ones and
        ``batch``, the one a report shows), largest first."""
        return sorted(set(self.timed_batches()) | {self.batch}, reverse=True)

    def claimed_steps(self) -> int:
        """What the script divides by: the last index minus the warm-up steps."""
        return len(self.batches()) - 1 - self.warmup_steps

    def check(self) -> None:
        """Refuse a protocol that times nothing (the script would divide by zero too)."""
        from ..errors import ConfigError
        if self.batch <= 0 or self.dataset_size <= 0 or self.warmup_steps < 0:
            raise ConfigError(f"protocol: batch {self.batch}, dataset {self.dataset_size} and "
                              f"warm-up {self.warmup_steps} must be positive")
        if self.claimed_steps() <= 0:
            raise ConfigError(f"--batch {self.batch}: {len(self.batches())} batches of a "
                              f"{self.dataset_size}-image dataset leave no timed steps after "
                              f"{self.warmup_steps} warm-up steps")

    def iterations_per_s(self, step_ns: dict[int, float]) -> float:
        """Throughput as the script prints it, from the simulated time of each batch size."""
        elapsed_ns = sum(step_ns[b] for b in self.timed_batches())
        return self.claimed_steps() / (elapsed_ns * 1e-9)
