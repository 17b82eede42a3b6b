"""What each basic block of the compiled kernel does: op classes counted from its machine code.

The kernel is compiled with ``-fsanitize-coverage=trace-pc``: every basic block starts with a
call to ``__sanitizer_cov_trace_pc``, whose return address names the block at run time. Here
the linked executable is disassembled (``objdump -d -l``) over the kernel's own code (found
in the link map), each block's machine instructions are classified once into the op classes
of ``records.OP_CLASSES``, and every call site is given its kernel source line
(``addr2line -i``: the innermost frame in the kernel file, so code inlined from our headers
reports the user's line). The runtime multiplies block execution counts by these classes.

Classification rules (x86-64, documented in docs/cpp.md):

* ``iterations``: a backward jump (a loop's back edge); the compare feeding it and the
  increments of the registers that compare tests are loop control, counted with it (as the
  Python @loop counts ``for`` bookkeeping as the iteration).
* ``compares``: cmp, test, (u)comis*, pcmp*, bt; ``selects``: cmov*, min*/max*, blend*, and a
  forward conditional branch over at most two instructions (what a target with conditional
  moves does in one select; the skipped instructions are free); ``branches``: other
  conditional branches.
* ``arith``: integer and floating-point ALU operations, conversions, shifts, logic, lea.
* ``divs``, ``pows`` and ``transcendentals`` follow the Python @loop's rules
  (gpsimd_sim/loops): ``divs`` are the division instructions (div, idiv, div*, fdiv*,
  fidiv*, fprem*, the reciprocals rcp*) and calls of fmod, remainder, remquo, div/ldiv and
  libgcc's 128-bit division helpers; ``pows`` are calls of pow (and libgcc's __powi*);
  ``transcendentals`` are the square-root instructions (sqrt*, rsqrt*, x87 fsqrt, fsin,
  fcos, ...) and calls of sqrt, cbrt, exp, log, sin, ... (``_TRANSCENDENTAL``), in their
  double, float and long double forms. gcc's errno guard around an inlined sqrt (a compare,
  a branch to a cold call of sqrtf for negative inputs, a jump back) leaves one
  transcendental per sqrt, whichever path runs. ``calls``: calls of other functions that
  are not the API or the instrumentation.
* free: moves, loads and stores (counted by the memory hooks), push/pop, nops, zero idioms
  (``xor %eax,%eax``), stack-pointer adjustments, set*, sign extensions, the argument set-up
  of instrumentation calls, and every instruction whose source location is in our headers or
  the generated glue (API bookkeeping that the records already charge).
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import KernelLoadError
from ..records import OP_CLASSES
from .toolchain import INCLUDE_DIR, run_tool

GLUE_FILE = "<gpsimd_sim kernel glue>"


def _libm(*names: str) -> frozenset[str]:
    """The double, float and long double names of libm functions: exp -> exp, expf, expl."""
    return frozenset(n + suffix for n in names for suffix in ("", "f", "l"))


# The op classes of gpsimd_sim/loops (its module docstring): sqrt and the other
# transcendental functions, pow, and division and modulo.
_TRANSCENDENTAL = _libm(
    "sqrt", "cbrt", "exp", "exp2", "exp10", "pow10", "expm1", "log", "log2", "log10", "log1p",
    "sin", "cos", "tan", "sincos", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh",
    "asinh", "acosh", "atanh", "hypot", "erf", "erfc", "tgamma", "lgamma", "gamma",
) | {"lgamma_r", "lgammaf_r", "lgammal_r"}
_POW = _libm("pow") | {"__powisf2", "__powidf2", "__powixf2"}   # libgcc: __builtin_powi
_DIV = _libm("fmod", "remainder", "remquo", "drem") | {
    "div", "ldiv", "lldiv", "imaxdiv",                            # <stdlib.h> quotient/remainder
    "__divti3", "__udivti3", "__modti3", "__umodti3", "__divmodti4", "__udivmodti4",  # 128-bit
    "__divdi3", "__udivdi3", "__moddi3", "__umoddi3",
}
_SQRT_CALLS = _libm("sqrt")
# instruction mnemonics (after a VEX/EVEX "v"): divisions and reciprocals; square roots and
# the x87 / AVX-512ER transcendental instructions
_DIV_INSNS = ("div", "idiv", "fdiv", "fidiv", "fprem", "rcp")
_TRANSCENDENTAL_INSNS = ("sqrt", "rsqrt", "fsqrt", "fsin", "fcos", "fptan", "fpatan", "fyl2x",
                         "f2xm1", "exp2p")

_REG64 = {}
for _r in ("ax", "bx", "cx", "dx"):
    for _v in (f"r{_r}", f"e{_r}", _r, f"{_r[0]}l", f"{_r[0]}h"):
        _REG64[_v] = f"r{_r}"
for _r in ("si", "di", "bp", "sp"):
    for _v in (f"r{_r}", f"e{_r}", _r, f"{_r}l"):
        _REG64[_v] = f"r{_r}"
for _i in range(8, 16):
    for _v in (f"r{_i}", f"r{_i}d", f"r{_i}w", f"r{_i}b"):
        _REG64[_v] = f"r{_i}"


def _reg(name: str) -> str:
    return _REG64.get(name.lstrip("%"), name.lstrip("%"))


@dataclass
class Insn:
    addr: int
    mnemonic: str
    operands: str
    file: str
    line: int
    func: str
    next: int = 0
    target: int | None = None     # jump or call target address
    target_name: str = ""         # <symbol> of a call or jump
    cls: str = ""                 # op class, "" for free
    owner: int = -1               # index of the block (trace site) it is charged to


@dataclass
class Site:
    addr: int          # return address
    kind: str          # B block, M memory, A other call
    block: int
    line: int
    ignore: int


@dataclass
class Table:
    base: int
    span: int
    funcs: list[str]
    blocks: list[dict]            # line, func, ops (dict)
    sites: list[Site]
    text_ranges: list[tuple[int, int]] = field(default_factory=list)

    def write(self, path: Path) -> None:
        out = [f"base {self.base:x} {self.span}", f"funcs {len(self.funcs)}"]
        out += [f or "kernel" for f in self.funcs]
        out.append(f"blocks {len(self.blocks)}")
        for b in self.blocks:
            out.append(" ".join([str(b["line"]), str(b["func"])] +
                                [str(b["ops"][k]) for k in OP_CLASSES]))
        out.append(f"sites {len(self.sites)}")
        for s in self.sites:
            out.append(f"{s.addr - self.base:x} {s.kind} {s.block} {s.line} {s.ignore}")
        path.write_text("\n".join(out) + "\n")


# ---------------------------------------------------------------------------------------
def kernel_ranges(map_file: Path, obj_name: str) -> list[tuple[int, int]]:
    """Address ranges of the code of ``obj_name`` in the executable, from the link map."""
    ranges = []
    pending = False
    in_text = False
    for raw in map_file.read_text(errors="replace").splitlines():
        if raw.startswith(".") and not raw.startswith(" "):
            in_text = raw.split()[0] == ".text"
            continue
        if not in_text:
            continue
        m = re.match(r"^ (\.text\S*)\s*$", raw)
        if m:
            pending = True
            continue
        m = re.match(r"^ (?:\.text\S*)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", raw)
        if m and (pending or raw.startswith(" .text")):
            pending = False
            lo, size, name = int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()
            if size and Path(name).name == obj_name:
                ranges.append((lo, lo + size))
            continue
        pending = False
    ranges.sort()
    merged = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 64:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


_INSN = re.compile(r"^\s*([0-9a-f]+):\t(\S+)\s*(.*)$")
_LOC = re.compile(r"^(.+):(\d+)(?: \(discriminator \d+\))?$")
_SYM = re.compile(r"^([0-9a-f]+) <(.+)>:$")
_TARGET = re.compile(r"^([0-9a-f]+) <(.+)>$")


def disassemble(exe: Path, ranges) -> list[Insn]:
    insns: list[Insn] = []
    for lo, hi in ranges:
        res = run_tool(["objdump", "-d", "-l", "-C", "--no-show-raw-insn", "-w",
                        f"--start-address=0x{lo:x}", f"--stop-address=0x{hi:x}", str(exe)],
                       "disassembling the kernel")
        if res.returncode != 0:
            raise KernelLoadError(f"objdump failed on the kernel: {res.stderr.strip()[:300]}")
        file, line, func = "", 0, ""
        start = len(insns)
        for text in res.stdout.splitlines():
            m = _INSN.match(text)
            if m:
                addr = int(m.group(1), 16)
                ins = Insn(addr, m.group(2), m.group(3).strip(), file, line, func)
                if ins.mnemonic in ("rep", "repz", "repnz", "lock", "notrack", "bnd", "data16",
                                    "cs", "ds") and ins.operands:
                    parts = ins.operands.split(None, 1)
                    ins.mnemonic = parts[0]
                    ins.operands = parts[1] if len(parts) > 1 else ""
                t = ins.operands.split("#")[0].strip()
                tm = _TARGET.match(t)
                if tm and (ins.mnemonic.startswith("j") or ins.mnemonic.startswith("call")):
                    ins.target = int(tm.group(1), 16)
                    ins.target_name = tm.group(2)
                insns.append(ins)
                continue
            m = _SYM.match(text)
            if m:
                func = m.group(2)
                continue
            m = _LOC.match(text)
            if m and not text.endswith("():"):
                file, line = m.group(1), int(m.group(2))
        for a, b in zip(insns[start:], insns[start + 1:]):
            a.next = b.addr
        if len(insns) > start:
            insns[-1].next = hi
    return insns


def _callee(name: str) -> str:
    """A call target's plain name: ``__tsan_read4``, ``expf@plt`` -> ``expf``, ``f(int)`` -> ``f``."""
    name = name.split("+")[0]
    name = name.split("@")[0]
    return name.split("(")[0].strip()


def _plain(name: str) -> str:
    """libm's name of a call target: ``std::exp`` and glibc's ``__exp_finite`` are ``exp``."""
    return re.sub(r"^(?:std::|__)", "", name).removesuffix("_finite")


def _call_class(name: str) -> str:
    """The op class of a call of ``name`` (a plain name, ``_callee``)."""
    for n in (name, _plain(name)):
        if n in _TRANSCENDENTAL:
            return "transcendentals"
        if n in _POW:
            return "pows"
        if n in _DIV:
            return "divs"
    return "calls"


def _base(mnemonic: str) -> str:
    """The mnemonic without the VEX/EVEX ``v`` of AVX: ``vsqrtss`` -> ``sqrtss``."""
    m = mnemonic
    if m.startswith("vp"):
        return m[1:]
    if m.startswith("v") and len(m) > 3 and m not in ("verr", "verw"):
        return m[1:]
    return m


def _site_kind(ins: Insn) -> str | None:
    if not ins.mnemonic.startswith("call"):
        return None
    name = _callee(ins.target_name)
    if name == "__sanitizer_cov_trace_pc":
        return "B"
    if name.startswith("__tsan_") or name in ("__wrap_memcpy", "__wrap_memmove", "__wrap_memset"):
        return "M"
    return "A"


def resolve_lines(exe: Path, addrs: list[int], kernel_file: str) -> dict[int, tuple[int, str, str]]:
    """addr -> (the innermost line in the kernel file, its function, the innermost file).

    Code inlined from our headers reports the kernel line that called it; code of a kernel
    helper inlined into the kernel function reports the helper's own line."""
    if not addrs:
        return {}
    # addr2line reads addresses from stdin when none are given on the command line
    try:
        proc = subprocess.run(["addr2line", "-a", "-f", "-i", "-C", "-e", str(exe)],
                              input="\n".join(f"0x{a:x}" for a in addrs) + "\n",
                              capture_output=True, text=True, errors="replace", timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelLoadError(f"resolving kernel lines: cannot run addr2line: {exc}") from None
    out: dict[int, tuple[int, str, str]] = {}
    groups: list[tuple[int, list[str]]] = []
    for text in proc.stdout.splitlines():
        if re.fullmatch(r"0x[0-9a-f]+", text):
            groups.append((int(text, 16), []))
        elif groups:
            groups[-1][1].append(text)
    for addr, lines in groups:
        frames = []  # (function, file, line), innermost first
        for i in range(0, len(lines) - 1, 2):
            fn, loc = lines[i], lines[i + 1]
            m = _LOC.match(loc.strip())
            if m:
                ln = int(m.group(2)) if m.group(2).isdigit() else 0
                frames.append((fn, m.group(1), ln))
            else:
                frames.append((fn, loc, 0))
        inner_file = frames[0][1] if frames else ""
        line, func = 0, ""
        for fn, f, ln in frames:  # innermost first: the kernel line nearest the code
            if _same_file(f, kernel_file):
                line, func = ln, fn
                break
        out[addr] = (line, func, inner_file)
    return out


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def _is_ours(path: str) -> bool:
    """Code from our headers or the generated glue (not the user's)."""
    if not path:
        return False
    if path.endswith(GLUE_FILE):
        return True
    try:
        return Path(path).resolve().is_relative_to(INCLUDE_DIR)
    except (OSError, ValueError):
        return False


def _operands(ins: Insn) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in ins.operands.split("#")[0]:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _classify(ins: Insn) -> str:
    m = ins.mnemonic
    ops = _operands(ins)
    base = _base(m)
    if base.startswith("cmov"):
        return "selects"
    if base.startswith("set") or base.startswith("mov") or base.startswith("push") \
            or base.startswith("pop") or base.startswith("nop") or base.startswith("endbr") \
            or base in ("leave", "ret", "retq", "cltq", "cqto", "cltd", "cwtl", "cbtw", "cwtd",
                        "xchg", "ud2", "int3", "hlt", "lfence", "sfence", "mfence", "pause",
                        "prefetcht0", "prefetcht1", "prefetcht2", "prefetchnta", "vzeroupper"):
        return ""
    if base.startswith("cvt") or base.startswith("round"):
        return "arith"
    if base.startswith(("ucomis", "comis", "cmp", "test", "pcmp", "ptest")) or base in ("bt", "btl", "btq"):
        return "compares"
    if base.startswith(("max", "min", "pmax", "pmin", "blend", "pblend")):
        return "selects"
    if base.startswith(_DIV_INSNS):
        return "divs"
    if base.startswith(_TRANSCENDENTAL_INSNS):
        return "transcendentals"
    if m.startswith("call"):
        name = _callee(ins.target_name)
        if name == "__sanitizer_cov_trace_pc" or name.startswith("__tsan_") \
                or name.startswith("gs_") or name.startswith("__wrap_mem"):
            return ""
        return _call_class(name)
    if m.startswith("j"):
        return "jump"
    # zero idioms and stack-pointer arithmetic
    if base.startswith(("xorp", "pxor", "xor", "sub")) and len(ops) == 2 and ops[0] == ops[1]:
        return ""
    if ops and _reg(ops[-1]) == "rsp":
        return ""
    return "arith"


def _dest_regs(ins: Insn) -> set[str]:
    ops = _operands(ins)
    return {_reg(ops[-1])} if ops and ops[-1].startswith("%") else set()


def _src_regs(ins: Insn) -> set[str]:
    return {_reg(r) for r in re.findall(r"%\w+", ins.operands.split("#")[0])}


def _sqrt_errno_paths(insns: list[Insn], by_addr: dict[int, int]) -> None:
    """gcc's inlined sqrt keeps errno: ``sqrtf(x)`` is ``x < 0 ? call sqrtf : sqrtss``, the
    call in a cold block that jumps back to where the sqrtss result joins. Each path is one
    transcendental (the sqrtss, or the call); the guard (its compare and conditional jump)
    and the jump back (not a loop's back edge) are free."""
    guards = [g for g, ins in enumerate(insns) if ins.mnemonic.startswith("j")
              and not ins.mnemonic.startswith("jmp") and ins.target is not None]
    for c, ins in enumerate(insns):
        if not ins.mnemonic.startswith("call") or _call_class(_callee(ins.target_name)) \
                != "transcendentals" or _plain(_callee(ins.target_name)) not in _SQRT_CALLS:
            continue
        j = c + 1  # the jump back: the next control transfer, a few moves after the call
        while j < min(c + 5, len(insns)) and not insns[j].mnemonic.startswith(("j", "call", "ret")):
            j += 1
        if j >= len(insns) or not insns[j].mnemonic.startswith("jmp") \
                or insns[j].target not in by_addr:
            continue
        k = by_addr[insns[j].target] - 1  # before the join: the sqrt instruction, then moves
        while k > 0 and k > by_addr[insns[j].target] - 4 and _base(insns[k].mnemonic).startswith("mov"):
            k -= 1
        if not _base(insns[k].mnemonic).startswith(("sqrt", "fsqrt")):
            continue
        s = c  # the cold block: after the last jump or return before the call
        while s > 0 and insns[s - 1].func == ins.func \
                and not insns[s - 1].mnemonic.startswith(("j", "ret", "ud2")):
            s -= 1
        insns[j].cls = ""
        for g in guards:
            if insns[s].addr <= insns[g].target <= ins.addr:
                insns[g].cls = ""
                for p in range(g - 1, max(g - 4, -1), -1):  # the compare feeding it
                    if insns[p].cls == "compares":
                        insns[p].cls = ""
                        break
                    if insns[p].mnemonic.startswith(("j", "call", "ret")):
                        break


def analyse(exe: Path, map_file: Path, obj_name: str, kernel_file: str) -> Table:
    ranges = kernel_ranges(map_file, obj_name)
    if not ranges:
        raise KernelLoadError("the kernel's code was not found in the link map")
    insns = disassemble(exe, ranges)
    by_addr = {ins.addr: i for i, ins in enumerate(insns)}

    # -- classify instructions -------------------------------------------------------------
    for i, ins in enumerate(insns):
        ours = _is_ours(ins.file)
        cls = _classify(ins)
        if cls == "jump":
            if ins.target is None:
                cls = "calls" if ins.mnemonic.startswith("jmp") and "*" in ins.operands else ""
            elif ins.target <= ins.addr:
                cls = "iterations"
            elif ins.mnemonic.startswith("jmp"):
                cls = "" if ins.target in by_addr else "calls"   # a tail call leaves the code
            else:
                skipped = [insns[k] for k in range(i + 1, len(insns))
                           if insns[k].addr < ins.target]
                short = ins.target in by_addr and len(skipped) <= 2 and not any(
                    s.mnemonic.startswith(("j", "call", "ret")) for s in skipped)
                cls = "selects" if short else "branches"
                if short:
                    for s in skipped:
                        s.cls = "free-skip"
        if ins.cls == "free-skip":
            continue
        ins.cls = "" if ours else cls
    for i, ins in enumerate(insns):
        if ins.cls == "free-skip":
            ins.cls = ""
    _sqrt_errno_paths(insns, by_addr)
    # loop control: the compare feeding a back edge, and increments of what it compares
    for i, ins in enumerate(insns):
        if ins.cls != "iterations" or ins.mnemonic.startswith("jmp") or i == 0:
            continue
        prev = insns[i - 1]
        if prev.cls != "compares":
            continue
        prev.cls = ""
        regs = _src_regs(prev)
        k = i - 2
        while k >= 0 and insns[k].addr >= (ins.target or 0):
            c = insns[k]
            if c.cls == "arith" and c.mnemonic.rstrip("lqwb") in ("add", "sub", "inc", "dec", "lea") \
                    and _dest_regs(c) & regs and ("$" in c.operands or c.mnemonic.startswith(("inc", "dec", "lea"))):
                c.cls = ""
            k -= 1
    # argument set-up of instrumentation calls
    for i, ins in enumerate(insns):
        if _site_kind(ins) in ("B", "M"):
            for k in (i - 1, i - 2):
                if k >= 0 and _dest_regs(insns[k]) & {"rdi", "rsi"}:
                    insns[k].cls = ""

    # -- basic blocks and the trace site each instruction is charged to ----------------------
    leaders = {lo for lo, _ in ranges}
    func_starts = set()
    for i, ins in enumerate(insns):
        if i == 0 or insns[i - 1].func != ins.func:
            leaders.add(ins.addr)
            func_starts.add(ins.addr)
        if ins.mnemonic.startswith("j") and ins.target is not None and ins.target in by_addr:
            leaders.add(ins.target)
        if (ins.mnemonic.startswith(("j", "ret", "ud2"))) and i + 1 < len(insns):
            leaders.add(insns[i + 1].addr)
    starts = sorted(a for a in leaders if a in by_addr)
    bounds = [(by_addr[a], by_addr[b] if j + 1 < len(starts) else len(insns))
              for j, (a, b) in enumerate(zip(starts, starts[1:] + [None]))]

    sites: list[Site] = []
    trace_index: dict[int, int] = {}  # instruction index of a trace call -> block number
    for i, ins in enumerate(insns):
        if _site_kind(ins) == "B":
            trace_index[i] = len(trace_index)
    block_of_mbb: list[int | None] = []
    for lo, hi in bounds:
        traced = [k for k in range(lo, hi) if k in trace_index]
        if traced:
            current = trace_index[traced[0]]
            for k in range(lo, hi):
                if k in trace_index:
                    current = trace_index[k]
                insns[k].owner = current
            block_of_mbb.append(trace_index[traced[-1]])
        else:
            block_of_mbb.append(None)
    # untraced blocks: charged to their single predecessor's block, else not counted
    mbb_of_start = {insns[lo].addr: j for j, (lo, _) in enumerate(bounds)}
    preds: dict[int, list[int]] = {}
    for j, (lo, hi) in enumerate(bounds):
        last = insns[hi - 1]
        if last.target is not None and last.mnemonic.startswith("j") and last.target in mbb_of_start:
            preds.setdefault(mbb_of_start[last.target], []).append(j)
        falls = not last.mnemonic.startswith(("jmp", "ret", "ud2"))
        if falls and j + 1 < len(bounds) and insns[bounds[j + 1][0]].func == last.func:
            preds.setdefault(j + 1, []).append(j)
    for _ in range(3):
        for j, (lo, hi) in enumerate(bounds):
            if block_of_mbb[j] is not None:
                continue
            p = preds.get(j, [])
            if len(p) == 1 and block_of_mbb[p[0]] is not None:
                block_of_mbb[j] = block_of_mbb[p[0]]
                for k in range(lo, hi):
                    insns[k].owner = block_of_mbb[j]

    # -- lines ------------------------------------------------------------------------------
    call_sites = [i for i, ins in enumerate(insns) if _site_kind(ins)]
    lines = resolve_lines(exe, [insns[i].addr for i in call_sites], kernel_file)
    funcs: list[str] = []
    func_index: dict[str, int] = {}
    blocks = [{"line": 0, "func": -1, "ops": {k: 0 for k in OP_CLASSES}} for _ in trace_index]
    for i in call_sites:
        ins = insns[i]
        kind = _site_kind(ins)
        line, fn, inner = lines.get(ins.addr, (0, "", ""))
        block = trace_index.get(i, -1)
        if kind == "B":
            plain = re.sub(r"\s+", "", fn.split("(")[0]) or "kernel"
            if plain not in func_index:
                func_index[plain] = len(funcs)
                funcs.append(plain)
            blocks[block]["line"] = line
            blocks[block]["func"] = func_index[plain]
        ignore = 1 if kind == "M" and _is_ours(inner) else 0
        sites.append(Site(ins.next, kind, block, line, ignore))
    for ins in insns:
        if ins.owner >= 0 and ins.cls in blocks[ins.owner]["ops"]:
            blocks[ins.owner]["ops"][ins.cls] += 1
    # blocks whose line is unknown (code of a non-inlined helper in our headers) count nothing
    lo = min(lo for lo, _ in ranges)
    hi = max(hi for _, hi in ranges)
    return Table(lo, hi - lo + 16, funcs, blocks, sites, ranges)
