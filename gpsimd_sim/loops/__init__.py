"""The ``@loop`` compiler: Python loops rewritten into numba functions that compute and count."""
from .compiler import CompiledLoop, LoopCompileError, LoopError, LoopResult, compile_loop

__all__ = ["CompiledLoop", "LoopCompileError", "LoopError", "LoopResult", "compile_loop"]
