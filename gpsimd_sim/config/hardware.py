"""Typed hardware parameters of the modelled GPSIMD engine.

Every field has a unit in its name and a one-line description; values come from a preset
(``presets/*.toml``) where each carries its source and confidence. A parameter that most
presets share may declare a default here, with the source and confidence of that default,
so a preset states only what it knows differently. The simulator reads hardware numbers
only from a ``HardwareConfig``; docs/hardware.md gives the sources in full.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields


def param(unit: str, doc: str, default=MISSING, source: str | None = None,
          confidence: str | None = None, *, low=None, high=None, alternatives=None,
          labels=None, range_reason: str | None = None, dist: str | None = None):
    """A parameter with its unit and description; with a default, also that default's
    source and confidence (a preset may then leave it out), and optionally the default's
    plausible range (``low``/``high``, or ``alternatives`` for a mechanism, with the reason:
    the same keys a preset entry takes, docs/calibration.md)."""
    meta = {"unit": unit, "doc": doc}
    if default is not MISSING:
        meta.update(source=source, confidence=confidence)
        rng = {k: v for k, v in (("low", low), ("high", high), ("alternatives", alternatives),
                                 ("labels", labels), ("range", range_reason), ("dist", dist))
               if v is not None}
        if rng:
            meta["range"] = rng
        return field(default=default, metadata=meta)
    return field(metadata=meta)


_ASSUMED = "assumed"

# The DMA organisations a preset may name (``dma.organisation``); timing/dma.py implements
# each one.
DMA_ORGANISATIONS = ("shared_queues", "per_core")


@dataclass(frozen=True)
class CoreConfig:
    """One GPSIMD vector processor and the cost table of its compute work."""
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
    call_cycles: float = param("cycles", "one cheap math call (abs, min, max, floor, ...)")
    store_cycles: float = param("cycles", "one store to TCM")
    loop_call_cycles: float = param("cycles", "fixed cost of entering one compiled loop (call, setup)")
    div_cycles: float = param(
        "cycles", "one division or modulo (/, //, %)", 20.0,
        "no source; an iterative divider on a DSP-class core (tens of cycles) assumed", _ASSUMED,
        low=10.0, high=40.0, range_reason="no source: half to twice the assumed iterative "
        "divider")
    pow_cycles: float = param(
        "cycles", "one power (**, pow)", 60.0,
        "no source; a library routine of a log, a multiply and an exp assumed", _ASSUMED,
        low=30.0, high=120.0, range_reason="no source: half to twice the assumed library "
        "routine")
    transcendental_cycles: float = param(
        "cycles", "one transcendental function (exp, log, sin, sqrt, ...)", 30.0,
        "no source; a short polynomial library routine assumed", _ASSUMED,
        low=15.0, high=60.0, range_reason="no source: half to twice the assumed polynomial "
        "routine")
    tensor_op_fixed_cycles: float = param(
        "cycles", "start-up of one device tensor op (abs, add, ...) on the cores", 150.0,
        "NKI ISA docs (Neuron 2.22): GPSIMD instructions cost about 150 cycles to start "
        "(iota, affine_select); docs/hardware.md", "M",
        low=100.0, high=300.0, range_reason="NKI documents 'about 150 cycles' for its own "
        "GPSIMD instructions; a custom operator's tensor op goes through the runtime library, "
        "so up to twice that")


@dataclass(frozen=True)
class TcmConfig:
    """Tightly-coupled memory of one processor."""
    tcm_bytes: int = param("bytes", "TCM per processor")
    tcm_pool_bytes: int = param("bytes", "TCM a custom operator may allocate with tcm_malloc, per core")
    tcm_latency_cycles: float = param("cycles", "TCM access latency, charged per load in a scalar loop")
    tcm_width_bytes: int = param("bytes/cycle", "TCM port width; tcm_malloc aligns buffers to it")
    stream_buffer_bytes: int = param(
        "bytes", "TCM buffer of one stream accessor", 4096,
        "Custom Operators API reference: each stream accessor is buffered in 4 KiB of TCM; "
        "docs/hardware.md", "H")
    fast_streams: int = param(
        "count", "stream accessors per core that are buffered (more run element-wise)", 4,
        "Custom Operators API reference: only up to 4 active stream accessors are performant; "
        "docs/hardware.md", "H")


@dataclass(frozen=True)
class DmaConfig:
    """DMA engines behind the TCM accessor (tensor_to_tcm / tcm_to_tensor) and fills."""
    dma_queues: int = param("count", "DMA queues the GPSIMD cores share")
    dma_fixed_ns: float = param("ns", "fixed cost per transfer, trigger to start of data movement")
    dma_bytes_per_ns: float = param("B/ns", "bandwidth of one DMA queue or engine (1 B/ns = 1 GB/s)")
    dma_fixed_holds_queue: bool = param("bool", "whether the fixed cost occupies the queue (else it overlaps)")
    fill_chunk_bytes: int = param("bytes", "zeros() fills device memory in DMA transfers of this size (0: one transfer)")
    organisation: str = param(
        "name", "how cores reach device memory: shared_queues (a pool all cores share) or "
        "per_core (an integrated engine per core); timing/dma.py", "shared_queues",
        "NeuronCore-v2 (Trn1/Inf2): the DMA engines belong to the NeuronCore, not to a "
        "GPSIMD core (NKI architecture guide); docs/hardware.md", "M",
        alternatives=("shared_queues",), range_reason="NeuronCore-v2's DMA engines belong to "
        "the NeuronCore (NKI architecture guide); per_core is NeuronCore-v3's organisation, "
        "so it is no alternative here (how many queues the cores use is dma_queues' range)")
    dma_total_bytes_per_ns: float = param(
        "B/ns", "most all the cores' DMA engines draw together (per_core only; shared_queues "
        "is capped by device memory)", 1e6,
        "unbounded unless a preset says otherwise", _ASSUMED,
        low=1e6, high=1e6, range_reason="not used by shared_queues; a per_core preset states "
        "its own")


@dataclass(frozen=True)
class MemoryConfig:
    """Device memory (HBM) and the element-wise accessor path into it."""
    hbm_bytes_per_ns: float = param("B/ns", "device-memory bandwidth per NeuronCore, shared by all DMA")
    element_access_ns: float = param("ns", "one element-wise accessor read of device memory "
                                     "(a write costs element_write_fraction of it)")
    element_write_fraction: float = param(
        "fraction", "cost of one element-wise accessor write relative to a read (1: the write "
        "waits for its round trip like a read; about 0.1: posted, the core pays only the "
        "address translation)", 1.0,
        "no source; writes assumed to block like reads (the unofficial description of "
        "customop-lib says stores may be posted: docs/calibration.md)", _ASSUMED,
        alternatives=(1.0, 0.1), labels=("blocking", "posted"),
        range_reason="an unofficial description of customop-lib's element accessor (L): "
        "each access is a software address-window translation (15-40 instructions) then a "
        "load or store; reads stall the in-order core, stores may be posted, costing about the "
        "translation alone, ~0.1 of a ~340-cycle round trip")


@dataclass(frozen=True)
class NeuronCoreConfig:
    """The rest of the NeuronCore a whole-model iteration uses (Tensor engine, runtime)."""
    tensor_flops_per_ns: float = param("FLOP/ns", "Tensor engine peak at the matmul dtype (1 FLOP/ns = 1 GFLOPS)")
    matmul_weight_bytes: int = param("bytes/param", "bytes read per weight each iteration")
    device_op_fixed_ns: float = param("ns", "fixed cost of one device op (a matmul, log_softmax): instruction issue, first DMA")
    custom_op_launch_ns: float = param("ns", "runtime cost of launching one custom operator on GPSIMD")
    activation_bytes: int = param(
        "bytes/value", "bytes of one activation value read or written by a device op", 4,
        "the benchmark script runs float32 throughout (tutorial's model.py); docs/hardware.md",
        "H")
    return_copy: str = param(
        "name", "how the runtime copies a tensor a single-core kernel returns (multicore "
        "kernels write get_dst_tensor() and pay none): none; single (one DMA each way); "
        "chunked (fill_chunk_bytes pieces each way, like zeros())", "none",
        "no official source; an unofficial description of customop-lib says the runtime "
        "copies a returned tensor once more (device memory -> GPSIMD data RAM -> device "
        "memory); the preset leaves it out until a measurement shows it "
        "(docs/calibration.md)", _ASSUMED,
        alternatives=("none", "single", "chunked"),
        range_reason="an unofficial description of customop-lib (L): the runtime copies a returned "
        "tensor once more; how it moves the bytes is not described, so one transfer each way "
        "or staged in fill_chunk_bytes pieces; or no copy at all")


@dataclass(frozen=True)
class HostConfig:
    """The host side of one step, and how it overlaps the device (workload/model.py)."""
    host_step_ns: float = param("ns", "host time per step: data loading, copy to device, graph launch")
    host_overlap: float = param(
        "fraction", "share of the host step that overlaps the device work of the step before "
        "(0: host and device in series; 1: fully pipelined, an iteration is the longer of "
        "the two)", 0.0,
        "the benchmark loop never waits for the device (mark_step returns before the device "
        "finishes, no result is read inside the loop), so some overlap is possible; how much "
        "is not published; 0 keeps the serial model the documented points were fitted with "
        "(docs/calibration.md)", _ASSUMED,
        low=0.0, high=1.0, dist="uniform",
        range_reason="from none of the host step to all of it: the script's structure allows "
        "any (docs/calibration.md, 'The iteration model')")
    train_host_factor: float = param(
        "x", "host time of a training step relative to host_step_ns (tracing forward, "
        "backward and optimizer instead of forward only)", 2.0,
        "no source; the training graph has about three times the operations of the "
        "inference graph to trace while data loading and launch stay the same: 2 assumed",
        _ASSUMED, low=1.0, high=3.0,
        range_reason="from the inference host step (tracing is negligible) to three times it "
        "(host time proportional to the operations traced)")


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
    caveat: str = ""      # a sentence every result carries (a what-if preset, borrowed values)

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


def field_of(section: str, name: str):
    """The dataclass field of parameter ``section.name``."""
    return next(f for f in fields(SECTIONS[section]) if f.name == name)


def declared_range(section: str, name: str) -> dict | None:
    """The plausible range a declared default carries (keys as in a preset entry), or None."""
    f = field_of(section, name)
    if f.default is MISSING:
        return None
    rng = f.metadata.get("range")
    return dict(rng) if rng else None


def declared_default(section: str, name: str) -> tuple[object, dict] | None:
    """(default, provenance) a parameter declares, or None when a preset must give it."""
    f = field_of(section, name)
    if f.default is MISSING:
        return None
    return f.default, {"source": f.metadata["source"] + " (declared default)",
                       "confidence": f.metadata["confidence"]}
