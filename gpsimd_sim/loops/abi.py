"""Layout of the int64 ``counts`` array a counting function fills (``P`` = parameters).

Kept apart from ``helpers`` (which needs numba) so that loading a kernel file, which
transforms its ``@loop`` functions, does not import numba; numba is imported when a loop
first runs.

    [0, N_OPS)                      one counter per OP_KINDS entry
    N_OPS + 2*p                     element loads of parameter p
    N_OPS + 2*p + 1                 element stores of parameter p
    [N_OPS + 2*P, +ERROR_SLOTS)     error: kind, parameter, line, ndim, index[0..3]
"""
from ..records import OP_CLASSES as OP_KINDS  # the operation classes the timing stage costs

N_OPS = len(OP_KINDS)
ERROR_SLOTS = 8      # kind, parameter index, line, ndim, four index values
ERR_NONE = 0
ERR_OUT_OF_BOUNDS = 1
ERR_STEP_LIMIT = 2
ERR_DIV_ZERO = 3     # integer // or % by zero
ERROR_KINDS = {ERR_OUT_OF_BOUNDS: "out_of_bounds", ERR_STEP_LIMIT: "step_limit",
               ERR_DIV_ZERO: "div_zero"}


def n_slots(n_params: int) -> int:
    """Length of the counts array for a loop with ``n_params`` parameters."""
    return N_OPS + 2 * n_params + ERROR_SLOTS
