"""The element-wise ReLU with its row loop running one row too far (`rows + 1`)."""
from gpsimd_sim.api import float32, kernel, loop, zeros


@loop
def relu_rows(t_in_acc, t_out_acc, rows, cols):
    for i in range(rows + 1):  # BUG: one row past the end
        for j in range(cols):
            t_out_acc[i][j] = t_in_acc[i][j] if t_in_acc[i][j] > 0.0 else 0.0


@kernel(reference="relu")
def relu_forward(t_in):
    t_out = zeros(t_in.sizes(), float32)
    shape = t_in.sizes()
    relu_rows(t_in.accessor(2), t_out.accessor(2), shape[0], shape[1])
    return t_out
