"""Softmax of every row through TCM, one core: a reduction, where the float tolerance matters.

Three passes over each row, a block at a time (the row need not fit in TCM): the row's
maximum, the sum of exp(x - max), then exp(x - max) / sum written out. The running maximum
and sum live in a small TCM buffer (``acc``), as a C++ kernel would keep them in locals:

    for (size_t r = 0; r < rows; r++) {
      float mx = -INFINITY, sum = 0.0f;
      for (size_t c = 0; c < cols; c += buffer_size) { /* tensor_to_tcm; mx = max(mx, x) */ }
      for (size_t c = 0; c < cols; c += buffer_size) { /* tensor_to_tcm; sum += exp(x - mx) */ }
      for (size_t c = 0; c < cols; c += buffer_size) {
        /* tensor_to_tcm; x = exp(x - mx) / sum; tcm_to_tensor */
      }
    }

The kernel sums in float32, one element after another; NumPy's reference (float64, then
rounded) differs by a few units in the last place, which the float32 tolerance allows.

    python -m gpsimd_sim run kernels/softmax_rows.py --shape 32x4096
"""
import math

import numpy as np

from gpsimd_sim.api import empty, float32, kernel, loop, sizeof, tcm_free, tcm_malloc

BUFFER_SIZE = 1024  # floats per block (--buffer-size overrides)


def softmax_reference(t_in):
    x = t_in.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


@loop
def start_row(acc):
    acc[0] = -math.inf
    acc[1] = 0.0


@loop
def block_max(buf, n, acc):
    for j in range(n):
        if buf[j] > acc[0]:
            acc[0] = buf[j]


@loop
def block_exp_sum(buf, n, acc):
    for j in range(n):
        acc[1] += math.exp(buf[j] - acc[0])


@loop
def block_normalise(buf, n, acc):
    for j in range(n):
        buf[j] = math.exp(buf[j] - acc[0]) / acc[1]


@kernel(reference=softmax_reference)
def softmax_rows(t_in):
    rows, cols = t_in.size(0), t_in.size(1)
    t_out = empty(t_in.sizes(), float32)
    buffer_size = BUFFER_SIZE
    buf = tcm_malloc(sizeof(float32) * buffer_size, float32)
    acc = tcm_malloc(sizeof(float32) * 16, float32)
    if buf is not None and acc is not None:
        t_in_tcm_acc = t_in.tcm_accessor()
        t_out_tcm_acc = t_out.tcm_accessor()
        for r in range(rows):
            start_row(acc)
            for c in range(0, cols, buffer_size):
                n = buffer_size if cols - c > buffer_size else cols - c
                t_in_tcm_acc.tensor_to_tcm(buf, r * cols + c, n)
                block_max(buf, n, acc)
            for c in range(0, cols, buffer_size):
                n = buffer_size if cols - c > buffer_size else cols - c
                t_in_tcm_acc.tensor_to_tcm(buf, r * cols + c, n)
                block_exp_sum(buf, n, acc)
            for c in range(0, cols, buffer_size):
                n = buffer_size if cols - c > buffer_size else cols - c
                t_in_tcm_acc.tensor_to_tcm(buf, r * cols + c, n)
                block_normalise(buf, n, acc)
                t_out_tcm_acc.tcm_to_tensor(buf, r * cols + c, n)
    tcm_free(buf)
    tcm_free(acc)
    return t_out
