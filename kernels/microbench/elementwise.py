"""Microbenchmark: the element-wise kernel (kernels/relu_elementwise.py) at three sizes, on
all-positive inputs (two reads and a write per element) and all-negative ones (one read and
a write): pins the read and the write cost of the element accessor and, from the sizes, the
per-call overhead (kernels/microbench/manifest.toml).

ReLU through the element-wise accessor: the tutorial's first kernel (neuron/relu.cpp).

    torch::Tensor relu_forward(const torch::Tensor& t_in) {
      torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kFloat);
      auto t_in_acc = t_in.accessor<float, 2>();
      auto t_out_acc = t_out.accessor<float, 2>();
      auto shape = t_in.sizes();
      for (int i = 0; i < shape[0]; i++) {
        for (int j = 0; j < shape[1]; j++) {
          t_out_acc[i][j] = t_in_acc[i][j] > 0.0 ? t_in_acc[i][j] : 0.0;
        }
      }
      return t_out;
    }

The two C++ loops are the @loop function below, so numba compiles them; every accessor
read and write is still one element-wise access of device memory, counted as such.
"""
from gpsimd_sim.api import float32, kernel, loop, zeros


@loop
def relu_rows(t_in_acc, t_out_acc, rows, cols):
    for i in range(rows):
        for j in range(cols):
            t_out_acc[i][j] = t_in_acc[i][j] if t_in_acc[i][j] > 0.0 else 0.0


@kernel(reference="relu")
def relu_forward(t_in):
    t_out = zeros(t_in.sizes(), float32)
    t_in_acc = t_in.accessor(2)
    t_out_acc = t_out.accessor(2)
    shape = t_in.sizes()
    relu_rows(t_in_acc, t_out_acc, shape[0], shape[1])
    return t_out
