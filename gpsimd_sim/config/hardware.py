"""Typed hardware parameters of the modelled NeuronCore-v2 GPSIMD engine.

Every field has a unit in its name and a one-line description in its metadata; values come
from a preset (``presets/*.toml``) where each one carries its source and confidence. No
number that describes the hardware lives anywhere else in the simulator.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


def param(unit: str, doc: str):
    """A dataclass field that must be given by the preset, with its unit and description."""
    return field(metadata={"unit": unit, "doc": doc})


@dataclass(frozen=True)
class CoreConfig:
    """One GPSIMD vector processor and the cost table of its compute loops."""
    cores: int = param("count", "GPSIMD processors per NeuronCore")
    clock_hz: float = param("Hz", "GPSIMD processor clock")
    simd_lanes_32bit: int = param("lanes", "SIMD lanes per processor at 32-bit (x2 at 16-bit, x4 at 8-bit)")
    loop_vectorised: bool = param("bool", "whether compiled compute loops use the SIMD lanes")
    issue_width_ops: int = param("ops/cycle", "scalar operations issued per cycle")
    iteration_cycles: float = param("cycles", "loop overhead per iteration (index update, compare, branch)")
    arith_cycles: float = param("cycles", "one arithmetic or logical operation")
    compare_cycles: float = param("cycles", "one comparison")
    select_cycles: float = param("cycles", "one conditional select (a ? b : c)")
    branch_cycles: float = param("cycles", "one if-statement (compare-and-branch)")
    call_cycles: float = param("cycles", "one math call (abs, min, max, exp, ...)")
    store_cycles: float = param("cycles", "one store to TCM")
    loop_call_cycles: float = param("cycles", "fixed cost of entering one compiled loop (call, setup)")


@dataclass(frozen=True)
class TcmConfig:
    """Tightly-coupled memory of one processor."""
    tcm_bytes: int = param("bytes", "TCM per processor")
    tcm_pool_bytes: int = param("bytes", "TCM a custom operator may allocate with tcm_malloc, per core")
    tcm_latency_cycles: float = param("cycles", "TCM access latency, charged per load in a scalar loop")
    tcm_width_bytes: int = param("bytes/cycle", "TCM port width")


@dataclass(frozen=True)
class DmaConfig:
    """DMA engines behind the TCM accessor (tensor_to_tcm / tcm_to_tensor) and zeros()."""
    dma_queues: int = param("count", "DMA queues the GPSIMD cores share")
    dma_fixed_ns: float = param("ns", "fixed cost per transfer, trigger to start of data movement")
    dma_bytes_per_ns: float = param("B/ns", "bandwidth of one DMA queue (1 B/ns = 1 GB/s)")
    dma_fixed_holds_queue: bool = param("bool", "whether the fixed cost occupies the queue (else it overlaps)")
    fill_chunk_bytes: int = param("bytes", "zeros() fills device memory in DMA transfers of this size (0: one transfer)")


@dataclass(frozen=True)
class MemoryConfig:
    """Device memory (HBM) and the element-wise accessor path into it."""
    hbm_bytes_per_ns: float = param("B/ns", "device-memory bandwidth per NeuronCore, shared by all DMA")
    element_access_ns: float = param("ns", "one element-wise accessor read or write of device memory")


@dataclass(frozen=True)
class NeuronCoreConfig:
    """The rest of the NeuronCore a whole-model iteration uses (Tensor engine, runtime)."""
    tensor_flops_per_ns: float = param("FLOP/ns", "Tensor engine peak at the matmul dtype (1 FLOP/ns = 1 GFLOPS)")
    matmul_weight_bytes: int = param("bytes/param", "bytes read per weight each iteration")
    device_op_fixed_ns: float = param("ns", "fixed cost of one device op (a matmul, log_softmax): instruction issue, first DMA")
    custom_op_launch_ns: float = param("ns", "runtime cost of launching one custom operator on GPSIMD")


@dataclass(frozen=True)
class HostConfig:
    """The host side of one inference step."""
    host_step_ns: float = param("ns", "host time per step: data loading, copy to device, graph launch")


@dataclass(frozen=True)
class HardwareConfig:
    """The whole resolved configuration of one simulated NeuronCore's GPSIMD engine."""
    name: str
    core: CoreConfig
    tcm: TcmConfig
    dma: DmaConfig
    memory: MemoryConfig
    neuroncore: NeuronCoreConfig
    host: HostConfig

    @property
    def ns_per_cycle(self) -> float:
        return 1e9 / self.core.clock_hz


SECTIONS: dict[str, type] = {
    "core": CoreConfig,
    "tcm": TcmConfig,
    "dma": DmaConfig,
    "memory": MemoryConfig,
    "neuroncore": NeuronCoreConfig,
    "host": HostConfig,
}


def parameter_table() -> list[tuple[str, str, type, str, str]]:
    """(section, name, type, unit, description) for every hardware parameter."""
    rows = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            rows.append((section, f.name, f.type, f.metadata["unit"], f.metadata["doc"]))
    return rows
