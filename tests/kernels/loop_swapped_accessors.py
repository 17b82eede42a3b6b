"""A @loop called twice with the same argument types, the second time with its accessors
swapped: it then writes through the const input's accessor, which numba refuses to type."""
from gpsimd_sim.api import float32, kernel, loop, zeros


@loop
def copy_rows(src_acc, dst_acc, rows, cols):
    for i in range(rows):
        for j in range(cols):
            dst_acc[i][j] = src_acc[i][j]


@kernel(reference="relu")
def relu_forward(t_in):
    t_out = zeros(t_in.sizes(), float32)
    shape = t_in.sizes()
    copy_rows(t_in.accessor(2), t_out.accessor(2), shape[0], shape[1])
    copy_rows(t_out.accessor(2), t_in.accessor(2), shape[0], shape[1])  # SWAPPED
    return t_out
