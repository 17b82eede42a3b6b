"""Compile ``@loop`` functions into numba functions that compute *and* count.

A ``@loop`` function is a plain Python function over numpy arrays and scalars. This
package parses its source and generates a *counting variant*: the same computation,
rewritten so that every operation it performs also bumps a counter, every element
access is bounds-checked, and every loop iteration is charged against a budget. The
variant is compiled once by numba (``cache=True``) and is the only code that ever
touches the arrays, so the data a kernel produces and the operation counts that the
timing model turns into cycles cannot drift apart.

Modules: ``source`` reads the function; ``language`` says what it may reference and
which counting class each operation takes; ``lowering`` and ``expressions`` (on top of
``emit``) generate the counting variant; ``cache`` writes and jits it; ``compiled`` runs
it (``CompiledLoop``); ``abi`` is the layout of the counts array that ``helpers`` (the
numba side) fill.

How expressions are rewritten. Conditional evaluation (``x if c else y``, ``and``/``or``,
chained comparisons) must count only the side that actually ran, and a faulting access
must stop the loop before memory is touched. Both need statements inside expressions,
so expressions are lowered to straight-line statements (A-normal form): loads become a
bounds check plus a counter bump, conditional parts become ``if`` blocks assigning a
temporary, and what remains is a side-effect-free expression. Counters are local
variables (registers after LLVM) flushed into an int64 array on every exit; nothing on
the hot path calls a helper that takes an array, because numba pays an atomic
incref/decref per array argument per call.

Counting rules (per operation actually executed on the given data):

* ``iterations`` -- each execution of a ``for``/``while`` body.
* ``arith`` -- each binary operator other than the division and power ones below, unary
  operator (``-x``, ``not x``, ``~x``; a negative literal is free), augmented assignment
  (``+=`` and the like), and truth test made by ``and``/``or`` (``a and b`` is one;
  ``a and b and c`` is one or two, short-circuiting).
* ``divs`` -- each ``/``, ``//``, ``%`` and ``/=``, ``//=``, ``%=``; the division-like
  calls ``math.fmod``, ``math.remainder``, ``math.gcd``, ``math.lcm``, ``numpy.fmod``,
  ``numpy.remainder``, ``numpy.reciprocal``.
* ``pows`` -- each ``**`` and ``**=``; ``math.pow`` and ``numpy.power``.
* ``transcendentals`` -- calls of sqrt, cbrt, isqrt, exp, exp2, expm1, log, log2, log10,
  log1p, sin, cos, tan, their inverses (asin/arcsin, ..., atan2/arctan2) and hyperbolics,
  hypot, dist, logaddexp, logaddexp2, erf, erfc, gamma, lgamma (``math`` or ``numpy``).
* ``calls`` -- the other counted calls, the cheap ones: ``abs``, ``min``, ``max``,
  ``round`` and the remaining ``math.*``/numpy scalar functions (fabs, floor, ceil, trunc,
  copysign, sign, isnan, ...). ``range``, ``len``, ``int``/``float``/``bool`` and numpy
  dtype casts are free.
* ``compares`` -- each comparison performed (``a < b < c`` is two, or one when
  ``a < b`` is false).
* ``selects`` -- each ``x if c else y``.
* ``branches`` -- each ``if`` statement executed (an ``elif`` is another ``if``).
* loads / stores -- element accesses ``a[i]``, ``a[i][j]``, ``a[i, j]`` on a parameter
  (up to 4-D); ``a[i] += x`` is a load, an arith and a store.

Operands are evaluated left to right as in Python; an operation that faults is not
counted, nor is anything after it.

Globals that are int/float/bool are frozen into the generated source as literals, read
when the loop runs (so ``BUFFER_SIZE`` changed after decoration is honoured and numba's
cache, keyed on the source file, never serves a stale constant).

Arithmetic follows numba, not NumPy: a Python float literal is float64, so
``a[i] * 0.1`` on a float32 array computes in float64 and rounds once on the store.
numba has no float16 on the CPU, so float16 arrays are passed as uint16 views whose
elements load as float32 and store rounded to nearest even (bit-exact with NumPy's
conversion); NumPy's own float16 arithmetic rounds after every operation instead.

Faults stop the loop before memory is touched and come back as ``LoopResult.error``:
``out_of_bounds`` (an index outside the array; negative indices do not wrap, as in C++),
``step_limit`` (the iteration budget is spent) and ``div_zero`` (``//`` or ``%`` of two
integers by zero, as in C++; float division by zero gives IEEE inf or nan, and ``/``
is true division, a float division, even of integers).

Errors: unsupported source raises LoopCompileError when the function is compiled
(decoration time), as does any decorator stacked on the @loop one. Arguments that
contradict the source (an array for a scalar, the wrong number of dimensions) and numba
typing failures raise LoopCompileError from ``run``, still naming the user's file and
line.
"""
from .abi import OP_KINDS
from .compiled import CompiledLoop, LoopError, LoopResult, compile_loop
from .language import LoopCompileError

__all__ = ["CompiledLoop", "LoopCompileError", "LoopError", "LoopResult", "OP_KINDS",
           "compile_loop"]
